"""Builders of small books, batches and tables for the store tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from pmtape.core.book import Book
from pmtape.store.rows import SnapshotBatch, TradeBatch

E6 = 1_000_000


def utc_ms(text: str) -> int:
    """Return epoch ms of an ISO-8601 UTC instant such as ``2024-03-31T23:59:59.999``."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def make_book(
    bids: list[tuple[float, float]],
    asks: list[tuple[float, float]],
    *,
    top_k: int = 50,
    ts_ms: int = 1_000,
    source_ts_ms: int | None = 990,
) -> Book:
    """Return a book holding these (price, size) levels, given as decimals."""
    book = Book(top_k=top_k)
    book.apply_snapshot(
        [(round(px * E6), round(sz * E6)) for px, sz in bids],
        [(round(px * E6), round(sz * E6)) for px, sz in asks],
        ts_ms,
        source_ts_ms,
    )
    return book


def snapshot_table(
    ts_list: list[int], *, venue: str = "sim", markets: int = 3, levels: int = 5
) -> pa.Table:
    """Return one snapshot row per timestamp, cycling through ``markets`` instruments."""
    batch = SnapshotBatch()
    for i, ts in enumerate(ts_list):
        book = make_book(
            [(0.50 - j / 100, 10 + j) for j in range(levels)],
            [(0.52 + j / 100, 20 + j) for j in range(levels)],
            ts_ms=ts,
        )
        book.seq = i
        market = f"m{(len(ts_list) - i) % markets}"
        batch.append_book(ts, venue, market, "yes", book, ts, None)
    return batch.to_table()


def trade_batch(ts_list: list[int], venue: str = "sim") -> TradeBatch:
    """Return a batch of trades, one per timestamp."""
    batch = TradeBatch()
    for i, ts in enumerate(ts_list):
        batch.append(ts, venue, f"m{i % 2}", "yes", i, 510_000, 2_500_000, "buy", f"t{i}", ts - 5)
    return batch
