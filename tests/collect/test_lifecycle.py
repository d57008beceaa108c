"""Markets that open and resolve mid-run reach the collector from the stream, not discovery.

The fakes' rolling series close and reopen every period: the stream announces each at once
(Polymarket ``market_resolved``/``new_market``, Kalshi ``market_lifecycle_v2``), while the
REST listing shows a new market only after a lag (as the real Gamma does). Discovery runs
once before the collector starts, and again only at the end, to check that it keeps what the
stream announced and leaves out what resolved.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pmtape.collect.collector import Collector
from pmtape.collect.rebuild import rebuild
from pmtape.config import load_config
from pmtape.core.clock import now_ms
from pmtape.discovery.service import discover_once
from pmtape.store.active import ActiveSetReader, active_snapshot_path
from pmtape.store.layout import table_dir
from pmtape.store.lifecycle import read_lifecycle
from pmtape.venues.kalshi.fake.faults import KalshiFakeFaults
from pmtape.venues.kalshi.fake.server import FakeKalshi
from pmtape.venues.polymarket.fake.faults import FakeFaults
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.registry import create_adapter
from tests.helpers import eventually
from tests.venues.kalshi.util import KEY_ID, throwaway_key

PERIOD_S = 4
LAG_S = 3600


Setup = tuple[AbstractAsyncContextManager[Any], dict[str, Any], dict[str, str]]
"""A fake (not started), config overrides and environment beyond the fake's own."""


@dataclass
class Case:
    venue: str
    setup: Callable[[Path], Setup]
    rolling: Callable[[Any], dict[str, list[str]]]
    """The fake's open rolling markets: market id -> instrument keys."""


def _pm_rolling(fake: Any) -> dict[str, list[str]]:
    return {
        fake.ids.gamma_id(m.market_id): [
            f"polymarket:{fake.ids.gamma_id(m.market_id)}:{t}" for t in m.token_ids
        ]
        for m in fake.generator.active_markets
        if m.series is not None
    }


def _kalshi_rolling(fake: Any) -> dict[str, list[str]]:
    tickers = (fake.ids.ticker(m) for m in fake.generator.active_markets if m.series is not None)
    return {t: [f"kalshi:{t}:YES"] for t in tickers}


def _pm_setup(tmp: Path) -> Setup:
    faults = FakeFaults(listing_lag_s=LAG_S, missing_hash_prob=0.0)
    fake = FakePolymarket(
        markets=6, rate=300, rolling_share=0.5, rolling_period_s=PERIOD_S, faults=faults
    )
    return fake, {}, {}


def _kalshi_setup(tmp: Path) -> Setup:
    key, public = throwaway_key(tmp)
    fake = FakeKalshi(
        markets=6,
        rate=300,
        rolling_share=0.5,
        rolling_period_s=PERIOD_S,
        faults=KalshiFakeFaults(listing_lag_s=LAG_S),
        keys={KEY_ID: public},
    )
    overrides = {"venues.kalshi.private_key_path": str(key)}
    return fake, overrides, {"PMTAPE_VENUES__KALSHI__API_KEY_ID": KEY_ID}


CASES = [
    Case("polymarket", _pm_setup, _pm_rolling),
    Case("kalshi", _kalshi_setup, _kalshi_rolling),
]


def _active_markets(data_dir: Path, venue: str) -> set[str]:
    reader = ActiveSetReader(active_snapshot_path(data_dir, venue))
    assert reader.poll()
    return {i.market_id for i in reader.instruments()}


def _snapshot_rows(data_dir: Path, venue: str) -> Counter[str]:
    """Return how many snapshot rows each instrument key has under ``data_dir``."""
    rows: Counter[str] = Counter()
    for f in table_dir(data_dir, "snapshots").rglob("*.parquet"):
        t = pq.read_table(f, columns=["market_id", "outcome_id"], partitioning=None)
        ids = zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True)
        rows.update(f"{venue}:{m}:{o}" for m, o in ids)
    return rows


@pytest.mark.asyncio
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.venue)
async def test_new_market_is_subscribed_and_resolved_one_leaves_without_discovery(
    tmp_path: Path, case: Case
) -> None:
    venue_name = case.venue
    fake_cm, extra, env = case.setup(tmp_path)
    async with fake_cm as fake:
        overrides = {
            **fake.config_overrides(),
            **extra,
            "data_dir": str(tmp_path),
            f"venues.{venue_name}.max_subs": 100,
            f"venues.{venue_name}.hot_count": 100,
            f"venues.{venue_name}.snapshot_interval_ms_hot": 200,
            f"venues.{venue_name}.subscription_churn_limit_per_minute": 6000,
            "writer.flush_s": 0.2,
            "collector.state_poll_s": 3600,  # the active set is read once: only the stream adds
            "capture.enabled": True,
        }
        cfg = load_config(
            None, overrides=overrides, venues=[venue_name], env=env, use_default_path=False
        )
        adapter = create_adapter(venue_name, cfg.venue(venue_name))
        await discover_once(cfg.data_dir, {venue_name: adapter})
        listed = _active_markets(tmp_path, venue_name)
        assert listed
        assert not listed & set(case.rolling(fake))  # the lag hides the rolling ones
        collector = Collector(cfg, {venue_name: adapter})
        venue = collector.venues[venue_name]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        try:
            # The next roll: its new markets are announced, subscribed and snapshotted.
            before = set(case.rolling(fake))
            await eventually(lambda: set(case.rolling(fake)) != before, timeout_s=PERIOD_S + 5)
            born = {m: ks for m, ks in case.rolling(fake).items() if m not in before}
            born_keys = {k for ks in born.values() for k in ks}
            await eventually(lambda: born_keys <= set(venue.state.by_key), timeout_s=10)
            polls = [venue.state.by_key[k].poll_key for k in born_keys]
            await eventually(lambda: all(venue.state.books[p].seq for p in polls), timeout_s=10)
            assert venue.active.loads == 1  # no new active set was read: the stream did it
            # The roll after: those markets resolve and leave (books and subscriptions).
            await eventually(
                lambda: not set(born) & set(case.rolling(fake)), timeout_s=PERIOD_S + 5
            )
            await eventually(lambda: not born_keys & set(venue.state.by_key), timeout_s=10)
            assert not born_keys & set(venue.instruments)
            assert venue.counters["unsubscribes"] >= len(born_keys)
            newest = case.rolling(fake)
        finally:
            stop.set()
            summary = await task
        assert summary.fatal is None
        live = _snapshot_rows(tmp_path, venue_name)
        assert born_keys <= set(live)  # rows while they were open
        # The capture replays the same subscriptions: rebuild yields the same rows for them.
        rebuild(Path(summary.run_dir or ""), tmp_path / "rb")
        rebuilt = _snapshot_rows(tmp_path / "rb", venue_name)
        assert {k: rebuilt[k] for k in born_keys} == {k: live[k] for k in born_keys}
        # Discovery's next cycle keeps the announced market the listing lacks and leaves
        # the resolved one out.
        records = read_lifecycle(tmp_path, venue_name, now_ms())
        announced = {r.market_id for r in records if r.instruments}
        assert set(born) <= announced
        assert set(born) <= {r.market_id for r in records if r.status in ("resolved", "settled")}
        (found,) = await discover_once(cfg.data_dir, {venue_name: adapter})
        assert found.error is None
        active = _active_markets(tmp_path, venue_name)
        assert not set(born) & active
        assert set(newest) & announced  # the last roll was announced before the stop
        assert set(newest) & announced <= active
        assert listed <= active
