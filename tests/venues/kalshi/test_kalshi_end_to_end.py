"""Kalshi end to end against the fake: discovery -> collector (signed WS) -> Parquet rows.

At quiet moments (the fake paused, everything in flight delivered) every ok snapshot row
equals the fake's true YES book, top-K, level for level — through an injected sequence gap.
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
from pmtape.venues.kalshi.fake.server import FakeKalshi
from pmtape.venues.registry import create_adapter
from tests.helpers import eventually
from tests.venues.kalshi.util import KEY_ID, throwaway_key

TOP_K = 10
SNAP_MS = 100


def _rows(data_dir: Path, table: str) -> list[dict[str, Any]]:
    files = sorted((data_dir / table).rglob("*.parquet"))
    return pa.concat_tables(pq.read_table(f) for f in files).to_pylist() if files else []


def _expected(book: tuple[list[tuple[int, int]], list[tuple[int, int]]]) -> dict[str, list[float]]:
    bids, asks = book
    return {
        "bid_px": [e6_to_float(p) for p, _ in bids[:TOP_K]],
        "bid_sz": [e6_to_float(s) for _, s in bids[:TOP_K]],
        "ask_px": [e6_to_float(p) for p, _ in asks[:TOP_K]],
        "ask_sz": [e6_to_float(s) for _, s in asks[:TOP_K]],
    }


def _books_settled(venue: Any, truth: dict[str, dict[str, list[float]]]) -> bool:
    for ticker, want in truth.items():
        book = venue.state.books.get(ticker)
        if book is None or book.stale_reason is not None:
            return False
        bids = book.bid_prices()[:TOP_K]
        asks = book.ask_prices()[:TOP_K]
        got = {
            "bid_px": [e6_to_float(p) for p in bids],
            "bid_sz": [e6_to_float(book.bids[p]) for p in bids],
            "ask_px": [e6_to_float(p) for p in asks],
            "ask_sz": [e6_to_float(book.asks[p]) for p in asks],
        }
        if got != want:
            return False
    return True


@pytest.mark.asyncio
async def test_ok_rows_equal_the_true_books_through_a_sequence_gap(tmp_path: Path) -> None:
    key, public = throwaway_key(tmp_path)
    async with FakeKalshi(markets=10, rate=400, seed=31, keys={KEY_ID: public}) as fake:
        overrides = {
            **fake.config_overrides(),
            "data_dir": str(tmp_path / "data"),
            "top_k": TOP_K,
            "venues.kalshi.private_key_path": str(key),
            "venues.kalshi.max_subs": 10,
            "venues.kalshi.hot_count": 10,
            "venues.kalshi.snapshot_interval_ms_hot": SNAP_MS,
            "venues.kalshi.subscription_churn_limit_per_minute": 600,
            "venues.kalshi.markets_per_subscription": 5,
            "writer.flush_s": 0.2,
            "collector.state_poll_s": 0.2,
            "capture.enabled": False,
        }
        env = {"PMTAPE_VENUES__KALSHI__API_KEY_ID": KEY_ID}
        cfg = load_config(
            None, overrides=overrides, venues=["kalshi"], env=env, use_default_path=False
        )
        adapter = create_adapter("kalshi", cfg.venue("kalshi"))
        (found,) = await discover_once(cfg.data_dir, {"kalshi": adapter})
        assert found.instruments == 10
        assert found.error is None
        collector = Collector(cfg, {"kalshi": adapter}, capture=False)
        venue = collector.venues["kalshi"]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        quiet: list[tuple[int, int, dict[str, Any]]] = []
        try:
            for round_no in range(2):
                fake.resume()
                await eventually(lambda: venue.counters["frames"] > 150 * (len(quiet) + 1))
                if round_no == 1:
                    fake.channel.inject_gap(fake.active_tickers()[0])
                    await eventually(lambda: venue.counters["session_disconnected"] >= 1)
                await fake.quiesce()
                truth = {t: _expected(fake.true_book(t)) for t in fake.active_tickers()}
                start = now_ms()
                await eventually(lambda t=truth: _books_settled(venue, t), timeout_s=10)
                settled_at = now_ms()
                await eventually(lambda s=settled_at: now_ms() > s + 3 * SNAP_MS)
                quiet.append((start, now_ms(), truth))
        finally:
            stop.set()
            summary = await task
        assert summary.rows_written > 0
        assert summary.trades_written > 0
        assert fake.snapshot_stats()["ws_snapshot_requests"] == 1
    rows = _rows(tmp_path / "data", "orderbook_snapshots")
    checked = 0
    for _start, end, truth in quiet:
        late = [r for r in rows if end - 2 * SNAP_MS <= r["ts_recv"] <= end and r["status"] == "ok"]
        assert {r["market_id"] for r in late} == set(truth)
        for r in late:
            want = truth[r["market_id"]]
            assert {k: r[k] for k in want} == want, r["market_id"]
            assert r["outcome_id"] == "YES"
            checked += 1
    assert checked >= 2 * 10
