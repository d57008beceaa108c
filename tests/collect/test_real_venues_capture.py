"""The three real adapters against their fakes, captured and rebuilt: raw first holds for all.

One collector runs Polymarket (market channel), Kalshi (signed WebSocket) and Limitless (REST
polling) from their local fakes with capture on. The bundle verifies, and rebuilding it gives
exactly the rows the live collector wrote, for every venue.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from pathlib import Path
from typing import Any

import pytest

from pmtape.capture.verify import verify_bundle
from pmtape.collect.rebuild import rebuild
from pmtape.config import load_config
from pmtape.store.files import read_table
from pmtape.venues.kalshi.fake.server import FakeKalshi
from pmtape.venues.limitless.fake.server import FakeLimitless
from pmtape.venues.polymarket.fake.server import FakePolymarket
from tests.collect.util import discovered_collector
from tests.helpers import eventually
from tests.venues.kalshi.util import KEY_ID, throwaway_key

VENUES = ("polymarket", "kalshi", "limitless")


def _rows(root: Path, kind: str) -> list[dict[str, Any]]:
    table = read_table(root, kind).drop_columns(["date", "hour"])
    keys = [(c, "ascending") for c in ("venue", "market_id", "outcome_id", "ts_recv", "seq")]
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
        for r in table.sort_by(keys).to_pylist()
    ]


@pytest.mark.asyncio
async def test_three_venues_capture_verifies_and_rebuilds_to_the_live_rows(tmp_path: Path) -> None:
    key_path, public = throwaway_key(tmp_path)
    async with contextlib.AsyncExitStack() as stack:
        pm = await stack.enter_async_context(FakePolymarket(markets=5, rate=200, seed=1))
        ka = await stack.enter_async_context(
            FakeKalshi(markets=5, rate=200, seed=2, keys={KEY_ID: public})
        )
        li = await stack.enter_async_context(FakeLimitless(markets=5, rate=100, seed=3))
        overrides: dict[str, Any] = {
            **pm.config_overrides(),
            **ka.config_overrides(),
            **li.config_overrides(),
            "data_dir": str(tmp_path / "data"),
            "writer.flush_s": 0.5,
            "venues.kalshi.mode": "ws",
            "venues.kalshi.private_key_path": str(key_path),
            "venues.limitless.poll_interval_s": 0.5,
        }
        for venue in VENUES:
            overrides[f"venues.{venue}.snapshot_interval_ms_hot"] = 300
        env = {"PMTAPE_VENUES__KALSHI__API_KEY_ID": KEY_ID}
        cfg = load_config(
            None, overrides=overrides, venues=list(VENUES), env=env, use_default_path=False
        )
        collector = await discovered_collector(cfg, run_id="three")
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        try:
            await eventually(
                lambda: all(v.counters["rows_submitted"] > 20 for v in collector.venues.values()),
                timeout_s=30,
            )
        finally:
            stop.set()
            summary = await task
    assert summary.rows_dropped == 0
    run_dir = Path(summary.run_dir or "")
    check = verify_bundle(run_dir)
    assert check.ok, check.first_error
    rebuild(run_dir, tmp_path / "rebuilt")
    live = _rows(cfg.data_dir, "snapshots")
    assert {r["venue"] for r in live} == set(VENUES)
    assert any(r["status"] == "ok" for r in live if r["venue"] == "kalshi")
    assert _rows(tmp_path / "rebuilt", "snapshots") == live
    assert _rows(tmp_path / "rebuilt", "trades") == _rows(cfg.data_dir, "trades")
