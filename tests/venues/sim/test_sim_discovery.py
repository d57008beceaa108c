"""Sim discovery and the adapter: two books per market, keys a session can stream."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from pmtape.config.models import SimVenueConfig
from pmtape.core.clock import now_ms
from pmtape.core.events import BookSnapshot
from pmtape.venues.registry import available, create_adapter
from pmtape.venues.sim.adapter import SimAdapter
from pmtape.venues.sim.constants import ANCHOR_MS
from pmtape.venues.sim.discovery import discover_sim
from pmtape.venues.sim.normalize import SimNormalizer
from pmtape.venues.sim.ws import SimSession
from tests.helpers import eventually

NOW = ANCHOR_MS + 321 * 86_400_000


def _config(**kwargs: Any) -> SimVenueConfig:
    return SimVenueConfig.model_validate({"markets": 40, "seed": 5, **kwargs})


def test_discovery_gives_two_instruments_per_market() -> None:
    result = discover_sim(_config(rolling_share=0.25, rolling_period_s=600), NOW)
    assert len(result.markets) == 40
    assert len(result.instruments) == 80
    assert len(result.raw) == 40
    by_market = {m.market_id: m for m in result.markets}
    for inst in result.instruments:
        market = by_market[inst.market_id]
        assert inst.venue == "sim"
        assert inst.poll_key == inst.instrument_id
        assert inst.instrument_id in market.outcome_ids
        assert inst.outcome == market.outcomes[market.outcome_ids.index(inst.instrument_id)]
        assert inst.expiration == market.close_ts
        assert inst.expiration is not None
        assert inst.expiration > NOW
        assert inst.rule == "sim"
        assert inst.slug == market.slug
        assert inst.tags == market.tags
        assert inst.activity == market.activity
        assert inst.instrument_key == f"sim:{inst.market_id}:{inst.poll_key}"
    for market in result.markets:
        assert market.outcomes == ["Yes", "No"]
        assert market.status == "active"
    rolling = [m for m in result.markets if m.close_ts is not None and m.close_ts - NOW <= 600_000]
    assert len(rolling) >= 10
    raw = {r["id"]: r for r in result.raw}
    assert set(raw) == set(by_market)
    for market_id, market in by_market.items():
        assert [t["token_id"] for t in raw[market_id]["tokens"]] == market.outcome_ids
        assert raw[market_id]["tick_size"] in ("0.01", "0.001")


def test_discovery_is_the_same_in_every_process() -> None:
    a = discover_sim(_config(), NOW)
    b = discover_sim(_config(), NOW)
    assert a.instruments == b.instruments
    assert a.markets == b.markets
    other = discover_sim(_config(seed=6), NOW)
    assert {i.poll_key for i in other.instruments}.isdisjoint({i.poll_key for i in a.instruments})


def test_adapter_is_registered_and_built_from_config() -> None:
    assert "sim" in available()
    adapter = create_adapter("sim", _config(markets=12))
    assert isinstance(adapter, SimAdapter)
    assert isinstance(adapter.new_session(), SimSession)
    assert isinstance(adapter.new_normalizer(), SimNormalizer)
    result = asyncio.run(adapter.discover(NOW))
    assert len(result.instruments) == 24
    assert len(SimAdapter().config.model_dump()) > 0


class _Sink:
    def __init__(self) -> None:
        self.normalizer = SimNormalizer()
        self.snapshots: set[str] = set()
        self.session_events: list[tuple[str, dict[str, Any]]] = []

    def on_frame(self, stream: str, payload: bytes, ts_recv_ns: int) -> None:
        for event in self.normalizer.normalize(payload, ts_recv_ns // 1_000_000):
            if isinstance(event, BookSnapshot):
                self.snapshots.add(event.key)

    def on_session_event(self, stream: str, kind: str, detail: dict[str, Any]) -> None:
        self.session_events.append((kind, detail))


@pytest.mark.asyncio
async def test_discovered_keys_are_what_a_session_of_another_adapter_streams() -> None:
    config = _config(updates_per_sec=5000.0)
    discovered = await SimAdapter(config).discover(now_ms())
    keys = [i.poll_key for i in discovered.instruments]
    session = SimAdapter(config).new_session()  # as if in the collector process
    sink = _Sink()
    task = asyncio.create_task(session.run(sink))
    try:
        await session.subscribe(keys)
        await eventually(lambda: len(sink.snapshots) == len(keys))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert ("subscribed", {"count": 80, "ignored": 0, "total": 80}) in sink.session_events
