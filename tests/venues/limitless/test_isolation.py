"""Venues cannot hurt each other: one collector, Kalshi down (503s or stalled), Limitless fine.

Both venues run in one collector process and one event loop, each with its own session,
cooldown, rate limits and tasks. While the Kalshi fake answers every request with 503, or
holds every request (and WebSocket upgrade) for minutes, the Limitless books keep their
snapshot cadence and stay ok.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pmtape.collect.collector import Collector
from pmtape.config import load_config
from pmtape.discovery.service import discover_once
from pmtape.venues.kalshi.fake.server import FakeKalshi
from pmtape.venues.limitless.fake.server import FakeLimitless
from pmtape.venues.registry import create_adapter
from tests.helpers import eventually
from tests.venues.kalshi.util import KEY_ID, throwaway_key

SNAP_MS = 200
MARKETS = 6


def _rows(data_dir: Path) -> list[dict[str, Any]]:
    files = sorted((data_dir / "orderbook_snapshots").rglob("*.parquet"))
    return pa.concat_tables(pq.read_table(f) for f in files).to_pylist() if files else []


def _config(
    tmp_path: Path, kalshi: FakeKalshi, limitless: FakeLimitless, mode: str, key: Path
) -> Any:
    overrides: dict[str, Any] = {
        **kalshi.config_overrides(),
        **limitless.config_overrides(),
        "data_dir": str(tmp_path / "data"),
        "top_k": 10,
        "writer.flush_s": 0.2,
        "collector.state_poll_s": 0.2,
        "capture.enabled": False,
        "venues.kalshi.mode": mode,
        "venues.kalshi.private_key_path": str(key),
        "venues.kalshi.http_timeout_s": 1.0,
        "venues.kalshi.poll_interval_s": 0.2,
    }
    for venue in ("kalshi", "limitless"):
        overrides |= {
            f"venues.{venue}.max_subs": MARKETS,
            f"venues.{venue}.hot_count": MARKETS,
            f"venues.{venue}.snapshot_interval_ms_hot": SNAP_MS,
            f"venues.{venue}.subscription_churn_limit_per_minute": 600,
        }
    overrides |= {
        "venues.limitless.poll_interval_s": 0.2,
        "venues.limitless.rate_limits": {"global": 200, "discovery": 50},
    }
    env = {"PMTAPE_VENUES__KALSHI__API_KEY_ID": KEY_ID}
    venues = ["kalshi", "limitless"]
    return load_config(None, overrides=overrides, venues=venues, env=env, use_default_path=False)


async def _run(tmp_path: Path, mode: str, fault: str, rows_wanted: int) -> None:
    path, public = throwaway_key(tmp_path, "kalshi.pem")
    async with (
        FakeKalshi(markets=MARKETS, rate=200, seed=81, keys={KEY_ID: public}) as kalshi,
        FakeLimitless(markets=MARKETS, rate=200, seed=82) as limitless,
    ):
        cfg = _config(tmp_path, kalshi, limitless, mode, path)
        adapters = {n: create_adapter(n, cfg.venue(n)) for n in ("kalshi", "limitless")}
        found = await discover_once(cfg.data_dir, adapters)
        assert [f.instruments for f in found] == [MARKETS, MARKETS]
        # Kalshi goes down before collection starts and stays down throughout.
        if fault == "503":
            kalshi.faults.http_error_prob = 1.0
            kalshi.faults.http_error_statuses = (503,)
        else:
            kalshi.faults.slow_ms = 180_000.0
        collector = Collector(cfg, adapters, capture=False)
        lim = collector.venues["limitless"]
        down = collector.venues["kalshi"]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        try:
            await eventually(lambda: lim.counters["rows_submitted"] >= rows_wanted, timeout_s=600)
        finally:
            stop.set()
            await task
    assert down.counters["session_error"] >= 1  # Kalshi really was down all along
    assert not down.session.connected
    rows = _rows(tmp_path / "data")
    _assert_cadence([r for r in rows if r["venue"] == "limitless"])
    assert all(r["status"] != "ok" for r in rows if r["venue"] == "kalshi")


def _assert_cadence(rows: list[dict[str, Any]]) -> None:
    by_key: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_key.setdefault(r["market_id"], []).append(r)
    assert len(by_key) == MARKETS
    for series in by_key.values():
        series.sort(key=lambda r: r["ts_recv"])
        gaps = [b["ts_recv"] - a["ts_recv"] for a, b in itertools.pairwise(series)]
        gaps.sort()
        assert gaps[len(gaps) // 2] <= SNAP_MS + 60  # the median: the configured cadence
        assert gaps[-1] <= 4 * SNAP_MS  # no stall, ever
        settled = series[5:]  # the first rows can precede the first poll
        ok = sum(r["status"] == "ok" for r in settled)
        assert ok >= 0.95 * len(settled)


@pytest.mark.parametrize(("mode", "fault"), [("rest", "503"), ("ws", "stall")])
@pytest.mark.asyncio
async def test_a_venue_that_is_down_does_not_slow_the_other(
    tmp_path: Path, mode: str, fault: str
) -> None:
    await _run(tmp_path, mode, fault, rows_wanted=MARKETS * 20)  # ~4 s of cadence


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "fault"), [("rest", "503"), ("rest", "stall"), ("ws", "stall")])
@pytest.mark.asyncio
async def test_three_minutes_of_a_down_venue_do_not_slow_the_other(
    tmp_path: Path, mode: str, fault: str
) -> None:
    await _run(tmp_path, mode, fault, rows_wanted=MARKETS * 900)  # 180 s at 200 ms
