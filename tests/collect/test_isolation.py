"""A venue that is down cannot slow the others, and comes back by itself.

One collector, two venues: the built-in sim venue (healthy) and Kalshi from its fake, which
answers every request with 503 for a while and then recovers. Measured from the Parquet
ts_recv as a user would: the healthy venue's HOT snapshot intervals stay within 10% of the
configured cadence throughout, and the down venue's books are ok again after the fake returns.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
from pathlib import Path
from typing import Any

import pytest

from pmtape.config import load_config
from pmtape.core.clock import now_ms
from pmtape.store.files import read_snapshots
from pmtape.venues.kalshi.fake.server import FakeKalshi
from tests.collect.util import discovered_collector
from tests.helpers import eventually

HOT_MS = 1000


async def _down_then_up(tmp_path: Path, down_s: float) -> None:
    async with FakeKalshi(markets=6, rate=100, seed=3) as kalshi:
        overrides: dict[str, Any] = {
            **kalshi.config_overrides(),
            "data_dir": str(tmp_path),
            "writer.flush_s": 0.5,
            "collector.state_poll_s": 0.5,
            "capture.enabled": False,
            "venues.sim.markets": 20,
            "venues.kalshi.mode": "rest",
            "venues.kalshi.poll_interval_s": 0.5,
            "venues.kalshi.cooldown_max_s": 5.0,
        }
        for venue in ("sim", "kalshi"):
            overrides |= {
                f"venues.{venue}.hot_count": 6,
                f"venues.{venue}.max_subs": 6,
                f"venues.{venue}.snapshot_interval_ms_hot": HOT_MS,
            }
        cfg = load_config(
            None, overrides=overrides, venues=["sim", "kalshi"], env={}, use_default_path=False
        )
        collector = await discovered_collector(cfg)
        kal = collector.venues["kalshi"]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        try:
            await eventually(lambda: kal.counters["http_bodies"] > 10, timeout_s=30)
            kalshi.faults.http_error_prob = 1.0
            kalshi.faults.http_error_statuses = (503,)
            await asyncio.sleep(down_s)  # the outage itself is what is being measured
            errors_while_down = kal.counters["session_error"]
            kalshi.faults.http_error_prob = 0.0
            back_ms = now_ms()
            bodies = kal.counters["http_bodies"]
            await eventually(lambda: kal.counters["http_bodies"] > bodies + 10, timeout_s=60)
            await asyncio.sleep(3 * HOT_MS / 1000)  # a few snapshots of the repaired books
        finally:
            stop.set()
            summary = await task
    assert errors_while_down >= 1  # it really was down
    rows = read_snapshots(tmp_path).to_pylist()
    _assert_cadence([r for r in rows if r["venue"] == "sim"])
    recovered = [r for r in rows if r["venue"] == "kalshi" and r["ts_recv"] > back_ms]
    assert recovered
    assert {r["status"] for r in recovered[-6:]} == {"ok"}
    assert summary.fatal is None


def _assert_cadence(rows: list[dict[str, Any]]) -> None:
    series: dict[str, list[int]] = {}
    for r in rows:
        series.setdefault(r["outcome_id"], []).append(r["ts_recv"])
    assert len(series) == 6
    for stamps in series.values():
        stamps.sort()
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert len(gaps) >= 5
        assert abs(statistics.mean(gaps) - HOT_MS) <= 0.1 * HOT_MS
        assert max(gaps) <= 1.5 * HOT_MS


@pytest.mark.asyncio
async def test_a_venue_down_for_seconds_does_not_slow_the_other_and_recovers(
    tmp_path: Path,
) -> None:
    await _down_then_up(tmp_path, down_s=8)


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_venue_down_for_three_minutes_does_not_slow_the_other_and_recovers(
    tmp_path: Path,
) -> None:
    await _down_then_up(tmp_path, down_s=180)
