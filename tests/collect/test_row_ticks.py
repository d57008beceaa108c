"""The tick the off-tick audit checks: published by discovery, moved by the venue, captured."""

from __future__ import annotations

import json

import pytest

from pmtape.collect.rebuild import _subscribed
from pmtape.collect.state import VenueBooks
from pmtape.core.clock import now_ms
from pmtape.core.instrument import Instrument, tick_e6_of
from pmtape.venues.kalshi.fake.server import FakeKalshi
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.polymarket.normalize import PolymarketNormalizer
from tests.venues.kalshi.util import adapter_for as kalshi_adapter
from tests.venues.polymarket.util import adapter_for as pm_adapter

TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NOW = 1_790_501_240_000


def _books(tick_e6: int = 10_000) -> VenueBooks:
    state = VenueBooks("polymarket", PolymarketNormalizer(), 5, None)
    state.add([Instrument(venue="polymarket", market_id="m", instrument_id=TOKEN,
                          poll_key=TOKEN, tick_e6=tick_e6)])  # fmt: skip
    return state


def _frame(msg: dict[str, object]) -> bytes:
    return json.dumps({"asset_id": TOKEN, "market": "0xabc", "timestamp": "1", **msg}).encode()


def _last_err(state: VenueBooks) -> str | None:
    state.snapshot([f"polymarket:m:{TOKEN}"], NOW)
    errs: list[str | None] = state.snapshots.err
    return errs[-1]


def test_a_tick_size_change_moves_the_tick_rows_are_audited_against() -> None:
    state = _books(10_000)
    state.apply_frame(
        _frame(
            {
                "event_type": "book",
                "bids": [{"price": "0.505", "size": "10"}],
                "asks": [{"price": "0.52", "size": "10"}],
            }
        ),
        NOW,
    )
    assert _last_err(state) == "audit: off_tick"  # 0.505 is off the 0.01 grid
    change = {"event_type": "tick_size_change", "old_tick_size": "0.01", "new_tick_size": "0.001"}
    state.apply_frame(_frame(change), NOW)
    assert state.ticks[TOKEN] == 1_000
    assert _last_err(state) is None  # on the 0.001 grid
    assert state.counters["audit_off_tick"] == 1


def test_a_bad_tick_size_change_is_counted_and_keeps_the_tick() -> None:
    state = _books(10_000)
    bad = {"event_type": "tick_size_change", "old_tick_size": "0.01", "new_tick_size": "1.5"}
    state.apply_frame(_frame(bad), NOW)
    assert state.normalizer.stats["bad"] == 1
    assert state.ticks[TOKEN] == 10_000


def test_rebuild_reads_the_tick_and_raw_of_subscribe_rows_of_every_age() -> None:
    raw = {"min_order_size": "5", "neg_risk": False}
    now = _subscribed("polymarket", ["m", "a", "a", raw, 1_000])
    assert (now.tick_e6, now.raw) == (1_000, raw)
    no_raw = _subscribed("polymarket", ["m", "b", "b", 10_000])
    assert (no_raw.tick_e6, no_raw.raw) == (10_000, None)
    before_ticks = _subscribed("polymarket", ["m", "c", "c", raw])
    assert (before_ticks.tick_e6, before_ticks.raw) == (0, raw)  # tick unknown: not audited
    oldest = _subscribed("polymarket", ["m", "d", "d"])
    assert (oldest.poll_key, oldest.tick_e6, oldest.raw) == ("d", 0, None)


def test_a_tick_is_a_positive_decimal_below_one() -> None:
    assert tick_e6_of("0.01") == 10_000
    assert tick_e6_of(0.001) == 1_000
    assert tick_e6_of("0.0100") == 10_000
    for unusable in (None, "", "abc", 0, "1", True, -0.01, [0.01]):
        assert tick_e6_of(unusable) == 0


@pytest.mark.asyncio
async def test_polymarket_discovery_publishes_each_tokens_tick_now() -> None:
    async with FakePolymarket(markets=12, rate=10, seed=3) as fake:
        result = await pm_adapter(fake).discover(now_ms())
        assert result.instruments
        for inst in result.instruments:
            assert inst.tick_e6 == fake.tick_e6(inst.poll_key)


@pytest.mark.asyncio
async def test_kalshi_discovery_publishes_the_finest_step_of_each_markets_grid() -> None:
    async with FakeKalshi(markets=12, seed=21) as fake:
        result = await kalshi_adapter(fake).discover(now_ms())
    raw = {r["ticker"]: r for r in result.raw}
    assert result.instruments
    for inst in result.instruments:
        steps = [tick_e6_of(r["step"]) for r in raw[inst.poll_key]["price_ranges"]]
        assert inst.tick_e6 == min(steps) > 0
