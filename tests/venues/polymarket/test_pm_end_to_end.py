"""End to end against the fake: discovery -> collector -> Parquet snapshots and trades.

The key property: at quiet moments (the fake paused, everything in flight delivered) every
snapshot row with status ok equals the fake's true book, top-K, level for level.
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
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.registry import create_adapter
from tests.helpers import eventually

TOP_K = 10
SNAP_MS = 100


def _rows(data_dir: Path, table: str) -> list[dict[str, Any]]:
    files = sorted((data_dir / table).rglob("*.parquet"))
    if not files:
        return []
    return pa.concat_tables(pq.read_table(f) for f in files).to_pylist()


def _expected(book: tuple[list[tuple[int, int]], list[tuple[int, int]]]) -> dict[str, list[float]]:
    bids, asks = book
    return {
        "bid_px": [e6_to_float(p) for p, _ in bids[:TOP_K]],
        "bid_sz": [e6_to_float(s) for _, s in bids[:TOP_K]],
        "ask_px": [e6_to_float(p) for p, _ in asks[:TOP_K]],
        "ask_sz": [e6_to_float(s) for _, s in asks[:TOP_K]],
    }


@pytest.mark.asyncio
async def test_rows_taken_at_quiet_moments_equal_the_fakes_true_books(tmp_path: Path) -> None:
    async with FakePolymarket(markets=12, rate=400, seed=41, trade_ratio=0.15) as fake:
        overrides = {
            **fake.config_overrides(),
            "data_dir": str(tmp_path),
            "top_k": TOP_K,
            "venues.polymarket.max_subs": 48,
            "venues.polymarket.hot_count": 48,
            "venues.polymarket.snapshot_interval_ms_hot": SNAP_MS,
            "venues.polymarket.subscription_churn_limit_per_minute": 600,
            "venues.polymarket.assets_per_connection": 10,
            "venues.polymarket.ping_interval_s": 0.5,
            "writer.flush_s": 0.2,
            "collector.state_poll_s": 0.2,
            "capture.enabled": False,
        }
        cfg = load_config(
            None, overrides=overrides, venues=["polymarket"], env={}, use_default_path=False
        )
        adapter = create_adapter("polymarket", cfg.venue("polymarket"))
        (found,) = await discover_once(cfg.data_dir, {"polymarket": adapter})
        assert found.instruments == 24
        assert found.error is None
        collector = Collector(cfg, {"polymarket": adapter}, capture=False)
        venue = collector.venues["polymarket"]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        quiet: list[tuple[int, int, dict[str, Any]]] = []
        try:
            for _ in range(2):
                fake.resume()
                await eventually(lambda: venue.counters["frames"] > 150 * (len(quiet) + 1))
                await fake.quiesce()
                truth = {t: _expected(fake.true_book(t)) for t in fake.active_tokens()}
                # Everything in flight has arrived once the collector's books equal the truth.
                start = now_ms()
                await eventually(lambda t=truth: _books_settled(venue, t), timeout_s=10)
                settled = now_ms()
                await eventually(lambda s=settled: now_ms() > s + 3 * SNAP_MS)
                quiet.append((start, now_ms(), truth))
        finally:
            stop.set()
            summary = await task
        assert summary.rows_written > 0
        assert summary.trades_written > 0
    rows = _rows(tmp_path, "orderbook_snapshots")
    checked = 0
    for start, end, truth in quiet:
        window = [r for r in rows if start <= r["ts_recv"] <= end and r["status"] == "ok"]
        late = [r for r in window if r["ts_recv"] >= end - 2 * SNAP_MS]
        assert {r["outcome_id"] for r in late} == set(truth)  # every book, snapshotted ok
        for r in late:
            want = truth[r["outcome_id"]]
            assert {k: r[k] for k in want} == want, r["outcome_id"]
            checked += 1
    assert checked >= 2 * 24
    trades = _rows(tmp_path, "trades")
    assert trades
    assert all(0 < t["px"] < 1 and t["sz"] > 0 for t in trades)


def _books_settled(venue: Any, truth: dict[str, dict[str, list[float]]]) -> bool:
    for token, want in truth.items():
        book = venue.state.books.get(token)
        if book is None or book.stale_reason is not None:
            return False
        bids = book.bid_prices()[:TOP_K]
        asks = book.ask_prices()[:TOP_K]
        if [e6_to_float(p) for p in bids] != want["bid_px"]:
            return False
        if [e6_to_float(book.bids[p]) for p in bids] != want["bid_sz"]:
            return False
        if [e6_to_float(p) for p in asks] != want["ask_px"]:
            return False
    return True
