"""Book-hash verification end to end: the fake's hash fault -> counted mismatches, stale rows.

A collector runs against the fake with capture on; with every served hash wrong, the
normalizer counts mismatches and the archive holds ``stale`` rows with err ``hash mismatch``;
``pmtape rebuild`` of the captured run yields them too. A clean run has none and checks pass.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pmtape.collect.collector import Collector
from pmtape.collect.rebuild import rebuild
from pmtape.config import load_config
from pmtape.discovery.service import discover_once
from pmtape.venues.polymarket.fake.faults import FakeFaults
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.polymarket.normalize import HASH_MISMATCH
from pmtape.venues.registry import create_adapter
from tests.helpers import eventually


def _rows(data_dir: Path) -> list[dict[str, Any]]:
    files = sorted((data_dir / "orderbook_snapshots").rglob("*.parquet"))
    return pa.concat_tables(pq.read_table(f) for f in files).to_pylist() if files else []


async def _collect(tmp_path: Path, bad_hash_prob: float) -> tuple[dict[str, Any], Path]:
    faults = FakeFaults(bad_hash_prob=bad_hash_prob, missing_hash_prob=0.0)
    async with FakePolymarket(markets=4, rate=300, seed=5, trade_ratio=0.2, faults=faults) as fake:
        overrides = {
            **fake.config_overrides(),
            "data_dir": str(tmp_path),
            "top_k": 5,
            "venues.polymarket.max_subs": 8,
            "venues.polymarket.hot_count": 8,
            "venues.polymarket.snapshot_interval_ms_hot": 100,
            "venues.polymarket.ping_interval_s": 0.5,
            "writer.flush_s": 0.2,
            "collector.state_poll_s": 0.2,
            "capture.enabled": True,
        }
        cfg = load_config(
            None, overrides=overrides, venues=["polymarket"], env={}, use_default_path=False
        )
        adapter = create_adapter("polymarket", cfg.venue("polymarket"))
        await discover_once(cfg.data_dir, {"polymarket": adapter})
        collector = Collector(cfg, {"polymarket": adapter})
        venue = collector.venues["polymarket"]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        try:
            await eventually(
                lambda: venue.status()["norm_hash_ok"] + venue.status()["norm_hash_mismatch"] >= 8
            )
            await eventually(lambda: venue.counters["frames"] > 200)
            status = venue.status()
        finally:
            stop.set()
            summary = await task
    assert summary.run_dir is not None
    return status, Path(summary.run_dir)


@pytest.mark.asyncio
async def test_wrong_hashes_are_counted_and_their_books_archived_stale(tmp_path: Path) -> None:
    status, run_dir = await _collect(tmp_path / "live", 1.0)
    assert status["norm_hash_mismatch"] > 0
    assert status["norm_hash_ok"] == 0
    live = [r for r in _rows(tmp_path / "live") if HASH_MISMATCH in (r["err"] or "")]
    assert live
    assert all(r["status"] == "stale" for r in live)
    rebuild(run_dir, tmp_path / "rebuilt")
    rebuilt = [r for r in _rows(tmp_path / "rebuilt") if HASH_MISMATCH in (r["err"] or "")]
    assert rebuilt
    assert all(r["status"] == "stale" for r in rebuilt)


@pytest.mark.asyncio
async def test_a_clean_run_checks_hashes_and_finds_no_mismatch(tmp_path: Path) -> None:
    status, _ = await _collect(tmp_path, 0.0)
    assert status["norm_hash_ok"] > 0
    assert status["norm_hash_mismatch"] == 0
    assert not [r for r in _rows(tmp_path) if HASH_MISMATCH in (r["err"] or "")]
