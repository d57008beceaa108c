"""Markets that open and resolve mid-run reach the collector from the stream, not discovery.

The fake's rolling series close and reopen every period: the channel announces each with
``market_resolved``/``new_market`` at once, while its Gamma lists a new market only after a
lag (as the real one does). Discovery runs once before the collector starts, and again only
at the end to check it keeps what the stream announced.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pmtape.collect.collector import Collector
from pmtape.config import Config, load_config
from pmtape.core.clock import now_ms
from pmtape.discovery.service import discover_once
from pmtape.store.active import ActiveSetReader, active_snapshot_path
from pmtape.store.layout import table_dir
from pmtape.store.lifecycle import read_lifecycle
from pmtape.venues.polymarket.fake.faults import FakeFaults
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.registry import create_adapter
from tests.helpers import eventually

PERIOD_S = 4
VENUE = "polymarket"


def _config(fake: Any, data_dir: Path) -> Config:
    overrides = {
        **fake.config_overrides(),
        "data_dir": str(data_dir),
        "venues.polymarket.max_subs": 100,
        "venues.polymarket.hot_count": 100,
        "venues.polymarket.snapshot_interval_ms_hot": 200,
        "venues.polymarket.subscription_churn_limit_per_minute": 6000,
        "writer.flush_s": 0.2,
        "collector.state_poll_s": 3600,  # the active set is read once: only the stream adds
        "capture.enabled": False,
    }
    return load_config(None, overrides=overrides, venues=[VENUE], env={}, use_default_path=False)


def _active_markets(data_dir: Path) -> set[str]:
    reader = ActiveSetReader(active_snapshot_path(data_dir, VENUE))
    assert reader.poll()
    return {i.market_id for i in reader.instruments()}


def _snapshot_keys(data_dir: Path) -> set[str]:
    keys: set[str] = set()
    for f in table_dir(data_dir, "snapshots").rglob("*.parquet"):
        t = pq.read_table(f, columns=["market_id", "outcome_id"], partitioning=None)
        ids = zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True)
        keys.update(f"{VENUE}:{m}:{o}" for m, o in ids)
    return keys


def _rolling(fake: FakePolymarket) -> dict[str, list[str]]:
    """Return the fake's open rolling markets: Gamma id -> token ids."""
    return {
        fake.ids.gamma_id(m.market_id): list(m.token_ids)
        for m in fake.generator.active_markets
        if m.series is not None
    }


@pytest.mark.asyncio
async def test_new_market_is_subscribed_and_resolved_one_leaves_without_discovery(
    tmp_path: Path,
) -> None:
    faults = FakeFaults(listing_lag_s=3600, missing_hash_prob=0.0)
    async with FakePolymarket(
        markets=6, rate=300, rolling_share=0.5, rolling_period_s=PERIOD_S, faults=faults
    ) as fake:
        cfg = _config(fake, tmp_path)
        adapter = create_adapter(VENUE, cfg.venue(VENUE))
        await discover_once(cfg.data_dir, {VENUE: adapter})
        listed = _active_markets(tmp_path)
        assert listed
        assert not listed & set(_rolling(fake))  # the lag hides the rolling ones
        collector = Collector(cfg, {VENUE: adapter}, capture=False)
        venue = collector.venues[VENUE]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        try:
            # The next roll: its new markets are announced, subscribed and snapshotted.
            before = set(_rolling(fake))
            await eventually(lambda: set(_rolling(fake)) != before, timeout_s=PERIOD_S + 5)
            born = {g: t for g, t in _rolling(fake).items() if g not in before}
            born_keys = {f"{VENUE}:{g}:{t}" for g, ts in born.items() for t in ts}
            await eventually(lambda: born_keys <= set(venue.state.by_key), timeout_s=10)
            # Their books fill: rows are taken while they are open (written by the end).
            await eventually(
                lambda: all(venue.state.books[k.rsplit(":", 1)[1]].seq for k in born_keys),
                timeout_s=10,
            )
            assert venue.active.loads == 1  # no new active set was read: the stream did it
            # The roll after: those markets resolve and leave (books and subscriptions).
            await eventually(lambda: not set(born) & set(_rolling(fake)), timeout_s=PERIOD_S + 5)
            await eventually(lambda: not born_keys & set(venue.state.by_key), timeout_s=10)
            assert not born_keys & set(venue.instruments)
            assert venue.counters["unsubscribes"] >= len(born_keys)
            newest = _rolling(fake)
        finally:
            stop.set()
            summary = await task
        assert summary.fatal is None
        assert born_keys <= _snapshot_keys(tmp_path)
        # Discovery's next cycle keeps the announced market Gamma does not list yet and
        # leaves the resolved one out.
        records = read_lifecycle(tmp_path, VENUE, now_ms())
        assert {r.status for r in records} >= {"new", "resolved"}
        (found,) = await discover_once(cfg.data_dir, {VENUE: adapter})
        assert found.error is None
        active = _active_markets(tmp_path)
        assert not set(born) & active
        announced = {r.market_id for r in records if r.status == "new"}
        assert set(newest) & announced <= active
        assert set(newest) & announced  # the last roll was announced before the stop
        assert listed <= active
