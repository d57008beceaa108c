"""The REST audit compares live books with the venue's REST books and records the mismatch rate."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from pmtape.collect.collector import Collector
from pmtape.collect.rebuild import rebuild
from pmtape.config import load_config
from pmtape.discovery.service import discover_once
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.registry import create_adapter
from tests.helpers import eventually


@pytest.mark.asyncio
async def test_audit_finds_agreeing_books_then_a_corrupted_one(tmp_path: Path) -> None:
    async with FakePolymarket(markets=6, rate=300, seed=5) as fake:
        overrides = {
            **fake.config_overrides(),
            "data_dir": str(tmp_path),
            "venues.polymarket.max_subs": 12,
            "venues.polymarket.hot_count": 12,
            "venues.polymarket.audit_sample": 12,
            "collector.state_poll_s": 0.2,
        }
        cfg = load_config(
            None, overrides=overrides, venues=["polymarket"], env={}, use_default_path=False
        )
        adapter = create_adapter("polymarket", cfg.venue("polymarket"))
        await discover_once(cfg.data_dir, {"polymarket": adapter})
        collector = Collector(cfg, {"polymarket": adapter}, run_id="audited")
        venue = collector.venues["polymarket"]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        try:
            await eventually(lambda: len(venue.state.books) == 12 and venue.counters["frames"] > 50)
            await eventually(lambda: all(b.seq for b in venue.state.books.values()))
            await fake.quiesce()
            normalizer = adapter.new_normalizer()
            assert await venue.audit_once(normalizer) == (12, 0)
            # A book that went wrong (say, a lost update) is what the audit is for.
            book = next(iter(venue.state.books.values()))
            book.apply_changes([(0, 10_000, 123_000_000)], 0)
            assert await venue.audit_once(normalizer) == (12, 1)
        finally:
            stop.set()
            summary = await task
    runlog_path = tmp_path / "captures" / "audited" / "runlog.ndjson"
    runlog = [json.loads(line) for line in runlog_path.read_text().splitlines()]
    audits = [r for r in runlog if r["kind"] == "audit"]
    assert [a["mismatched"] for a in audits] == [0, 1]
    assert summary.venues["polymarket"]["audit_mismatches"] == 1
    # Audit bodies are in the capture but were never applied: rebuild must skip them too.
    rebuilt = rebuild(Path(summary.run_dir or ""), tmp_path / "rebuilt")
    assert rebuilt.snapshot_rows == summary.rows_written
