"""Limitless end to end against the fake: discovery -> collector (REST polling) -> Parquet rows.

At quiet moments (the fake paused, a full polling cycle delivered) every ok snapshot row
equals the fake's true book, top-K, level for level, with sizes scaled from raw 1e6 units.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pmtape.collect.collector import Collector
from pmtape.config import load_config
from pmtape.core.clock import now_ms
from pmtape.core.fixed import e6_to_float
from pmtape.discovery.service import discover_once
from pmtape.venues.limitless.fake.server import FakeLimitless
from pmtape.venues.registry import create_adapter
from tests.helpers import eventually

TOP_K = 10
SNAP_MS = 100


def _rows(data_dir: Path, table: str) -> list[dict[str, Any]]:
    files = sorted((data_dir / table).rglob("*.parquet"))
    return pa.concat_tables(pq.read_table(f) for f in files).to_pylist() if files else []


def _top(book: tuple[list[tuple[int, int]], list[tuple[int, int]]]) -> dict[str, list[float]]:
    bids, asks = book
    return {
        "bid_px": [e6_to_float(p) for p, _ in bids[:TOP_K]],
        "bid_sz": [e6_to_float(s) for _, s in bids[:TOP_K]],
        "ask_px": [e6_to_float(p) for p, _ in asks[:TOP_K]],
        "ask_sz": [e6_to_float(s) for _, s in asks[:TOP_K]],
    }


def _settled(venue: Any, truth: dict[str, dict[str, list[float]]]) -> bool:
    for slug, want in truth.items():
        book = venue.state.books.get(slug)
        if book is None or book.stale_reason is not None:
            return False
        mine = (
            [(p, book.bids[p]) for p in book.bid_prices()],
            [(p, book.asks[p]) for p in book.ask_prices()],
        )
        if _top(mine) != want:
            return False
    return True


@pytest.mark.asyncio
async def test_ok_rows_taken_at_quiet_moments_equal_the_true_books(tmp_path: Path) -> None:
    async with FakeLimitless(markets=12, rate=300, seed=71, rolling_share=0.25) as fake:
        overrides = {
            **fake.config_overrides(),
            "data_dir": str(tmp_path),
            "top_k": TOP_K,
            "venues.limitless.max_subs": 12,
            "venues.limitless.hot_count": 12,
            "venues.limitless.snapshot_interval_ms_hot": SNAP_MS,
            "venues.limitless.subscription_churn_limit_per_minute": 600,
            "venues.limitless.poll_interval_s": 0.2,
            "venues.limitless.rate_limits": {"global": 500, "discovery": 50},
            "writer.flush_s": 0.2,
            "collector.state_poll_s": 0.2,
            "capture.enabled": False,
        }
        cfg = load_config(
            None, overrides=overrides, venues=["limitless"], env={}, use_default_path=False
        )
        adapter = create_adapter("limitless", cfg.venue("limitless"))
        (found,) = await discover_once(cfg.data_dir, {"limitless": adapter})
        assert found.instruments == 12
        assert found.error is None
        collector = Collector(cfg, {"limitless": adapter}, capture=False)
        venue = collector.venues["limitless"]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        quiet: list[tuple[int, dict[str, Any]]] = []
        try:
            for _ in range(2):
                fake.resume()
                await eventually(lambda: venue.counters["http_bodies"] > 60 * (len(quiet) + 1))
                fake.pause()
                truth = {s: _top(fake.true_book(s)) for s in fake.active_slugs()}
                await eventually(lambda t=truth: _settled(venue, t), timeout_s=10)
                settled_at = now_ms()
                await eventually(lambda s=settled_at: now_ms() > s + 3 * SNAP_MS)
                quiet.append((now_ms(), truth))
        finally:
            stop.set()
            summary = await task
        assert summary.rows_written > 0
    rows = _rows(tmp_path, "orderbook_snapshots")
    checked = 0
    for end, truth in quiet:
        late = [r for r in rows if end - 2 * SNAP_MS <= r["ts_recv"] <= end and r["status"] == "ok"]
        assert {r["market_id"] for r in late} == set(truth)
        for r in late:
            want = truth[r["market_id"]]
            assert {k: r[k] for k in want} == want, r["market_id"]
            assert r["outcome_id"] == "BOOK"
            checked += 1
    assert checked >= 2 * 12
