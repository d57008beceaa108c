from __future__ import annotations

import math
from typing import Any

import pyarrow as pa
import pytest

from pmtape.core.errors import StoreError
from pmtape.core.events import Trade
from pmtape.core.snapshot import SNAPSHOT_COLUMNS, SnapshotRow
from pmtape.store.rows import SNAPSHOT_SCHEMA, TRADE_SCHEMA, SnapshotBatch, TradeBatch
from tests.store.factories import make_book

F64_LIST = pa.list_(pa.float64())


def test_snapshot_schema_is_exactly_the_archive_schema() -> None:
    expected = [
        ("ts_recv", pa.int64()),
        ("venue", pa.dictionary(pa.int32(), pa.string())),
        ("market_id", pa.string()),
        ("outcome_id", pa.string()),
        ("seq", pa.int64()),
        ("best_bid_px", pa.float64()),
        ("best_bid_sz", pa.float64()),
        ("best_ask_px", pa.float64()),
        ("best_ask_sz", pa.float64()),
        ("mid", pa.float64()),
        ("spread", pa.float64()),
        ("bid_px", F64_LIST),
        ("bid_sz", F64_LIST),
        ("ask_px", F64_LIST),
        ("ask_sz", F64_LIST),
        ("status", pa.string()),
        ("err", pa.string()),
        ("source_ts", pa.int64()),
    ]
    assert tuple(SNAPSHOT_SCHEMA.names) == SNAPSHOT_COLUMNS
    assert [(f.name, f.type) for f in SNAPSHOT_SCHEMA] == expected
    nullable = {f.name for f in SNAPSHOT_SCHEMA if f.nullable}
    assert nullable == {"err", "source_ts"}
    assert pa.types.is_list(SNAPSHOT_SCHEMA.field("bid_px").type)


def test_trade_schema() -> None:
    assert TRADE_SCHEMA.names == [
        "ts_recv", "venue", "market_id", "outcome_id", "seq", "px", "sz", "side", "trade_id",
        "source_ts",
    ]  # fmt: skip
    assert {f.name for f in TRADE_SCHEMA if f.nullable} == {"side", "trade_id", "source_ts"}
    assert TRADE_SCHEMA.field("px").type == pa.float64()


def _one_row(book_rows: SnapshotBatch) -> dict[str, Any]:
    table = book_rows.to_table()
    assert table.schema == SNAPSHOT_SCHEMA
    assert table.num_rows == 1
    return table.to_pylist()[0]


def test_append_book_orders_sides_and_caps_at_top_k() -> None:
    bids = [(0.40 + i / 100, 1 + i) for i in range(8)]  # 0.40 .. 0.47
    asks = [(0.60 - i / 100, 100.25 + i) for i in range(10)]  # 0.60 .. 0.51
    book = make_book(bids, asks, top_k=5, ts_ms=1_000, source_ts_ms=995)
    batch = SnapshotBatch()
    batch.append_book(2_000, "sim", "m1", "yes", book, 2_000, 60_000)
    row = _one_row(batch)
    assert row["bid_px"] == [0.47, 0.46, 0.45, 0.44, 0.43]
    assert row["bid_sz"] == [8.0, 7.0, 6.0, 5.0, 4.0]
    assert row["ask_px"] == [0.51, 0.52, 0.53, 0.54, 0.55]
    assert row["ask_sz"] == [109.25, 108.25, 107.25, 106.25, 105.25]
    assert (row["best_bid_px"], row["best_bid_sz"]) == (0.47, 8.0)
    assert (row["best_ask_px"], row["best_ask_sz"]) == (0.51, 109.25)
    assert row["mid"] == (0.47 + 0.51) / 2
    assert row["spread"] == 0.51 - 0.47
    assert (row["ts_recv"], row["venue"], row["market_id"], row["outcome_id"]) == (
        2_000, "sim", "m1", "yes",
    )  # fmt: skip
    assert (row["seq"], row["source_ts"], row["status"], row["err"]) == (1, 995, "ok", None)


def test_prices_are_the_exact_doubles_of_e6() -> None:
    book = make_book([(0.123457, 1.5)], [(0.999999, 0.000001)])
    batch = SnapshotBatch()
    batch.append_book(1, "sim", "m", "o", book, 1, None)
    row = _one_row(batch)
    assert row["bid_px"] == [123_457 / 1_000_000]
    assert row["ask_sz"] == [1 / 1_000_000]


@pytest.mark.parametrize(
    ("bids", "asks", "status", "err"),
    [
        ([(0.4, 1)], [], "partial", "no asks"),
        ([], [(0.6, 1)], "partial", "no bids"),
        ([], [], "empty", None),
    ],
)
def test_missing_side_gives_nan_and_status(
    bids: list[tuple[float, float]], asks: list[tuple[float, float]], status: str, err: str | None
) -> None:
    batch = SnapshotBatch()
    batch.append_book(5, "sim", "m", "o", make_book(bids, asks), 5, None)
    row = _one_row(batch)
    assert math.isnan(row["mid"])
    assert math.isnan(row["spread"])
    assert math.isnan(row["best_bid_px"]) == (not bids)
    assert math.isnan(row["best_ask_sz"]) == (not asks)
    assert len(row["bid_px"]) == len(row["bid_sz"]) == len(bids)
    assert len(row["ask_px"]) == len(row["ask_sz"]) == len(asks)
    assert (row["status"], row["err"]) == (status, err)


def test_stale_status_passes_through() -> None:
    marked = make_book([(0.4, 1)], [(0.6, 1)])
    marked.mark_stale("sequence gap")
    quiet = make_book([(0.4, 1)], [(0.6, 1)], ts_ms=1_000)
    batch = SnapshotBatch()
    batch.append_book(2_000, "sim", "m", "a", marked, 2_000, 60_000)
    batch.append_book(100_000, "sim", "m", "b", quiet, 100_000, 60_000)
    batch.append_book(100_000, "sim", "m", "c", quiet, 100_000, None)
    rows = batch.to_table().to_pylist()
    assert [(r["status"], r["err"]) for r in rows] == [
        ("stale", "sequence gap"),
        ("stale", "no update for 99s"),
        ("ok", None),
    ]
    assert rows[0]["mid"] == 0.5  # a stale book still reports its levels


def test_append_row_round_trips_and_rejects_ragged_lists() -> None:
    row = SnapshotRow(
        ts_recv=7, venue="sim", market_id="m", outcome_id="o", seq=3,
        best_bid_px=0.45, best_bid_sz=2.5, best_ask_px=0.55, best_ask_sz=1.0,
        mid=0.5, spread=0.55 - 0.45, bid_px=[0.45, 0.44], bid_sz=[2.5, 3.0],
        ask_px=[0.55], ask_sz=[1.0], status="ok", err=None, source_ts=None,
    )  # fmt: skip
    batch = SnapshotBatch()
    batch.append_row(row)
    assert batch.to_table().to_pylist() == [{name: getattr(row, name) for name in SNAPSHOT_COLUMNS}]
    ragged = SnapshotRow(**{**{n: getattr(row, n) for n in SNAPSHOT_COLUMNS}, "bid_sz": [1.0]})
    with pytest.raises(StoreError):
        batch.append_row(ragged)
    assert len(batch) == 1


def test_extend_and_clear() -> None:
    first, second = SnapshotBatch(), SnapshotBatch()
    first.append_book(1, "sim", "a", "o", make_book([(0.4, 1), (0.3, 2)], [(0.6, 1)]), 1, None)
    second.append_book(2, "sim", "b", "o", make_book([], [(0.7, 3), (0.8, 4)]), 2, None)
    second.append_book(3, "sim", "c", "o", make_book([(0.1, 5)], []), 3, None)
    expected = pa.concat_tables([first.to_table(), second.to_table()]).to_pylist()
    first.extend(second)
    assert len(first) == 3
    assert _nan_safe(first.to_table().to_pylist()) == _nan_safe(expected)
    assert len(second) == 2  # left unchanged
    first.clear()
    assert len(first) == 0
    assert first.to_table().num_rows == 0


def _nan_safe(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: ("nan" if v != v else v) for k, v in r.items()} for r in rows]


def test_trade_batch() -> None:
    batch = TradeBatch()
    batch.append_trade("sim", "m", "yes", 4, Trade("k", 515_000, 12_340_000, "sell", 90, 100, "x1"))
    batch.append(101, "sim", "m", "yes", 5, 520_000, 1_000_000)
    other = TradeBatch()
    other.append(102, "sim", "m", "no", 1, 480_000, 2_000_000, "buy")
    batch.extend(other)
    rows = batch.to_table().to_pylist()
    assert batch.to_table().schema == TRADE_SCHEMA
    assert rows[0] == {
        "ts_recv": 100, "venue": "sim", "market_id": "m", "outcome_id": "yes", "seq": 4,
        "px": 0.515, "sz": 12.34, "side": "sell", "trade_id": "x1", "source_ts": 90,
    }  # fmt: skip
    assert (rows[1]["side"], rows[1]["trade_id"], rows[1]["source_ts"]) == (None, None, None)
    assert [r["outcome_id"] for r in rows] == ["yes", "yes", "no"]
    batch.clear()
    assert len(batch) == 0


def test_sorted_to_table_equals_sorting_the_table() -> None:
    import random

    from pmtape.core.book import Book
    from pmtape.store.files import sort_rows
    from pmtape.store.rows import SnapshotBatch

    rng = random.Random(3)
    books = {}
    for m in range(30):
        book = Book(top_k=8)
        levels = rng.randint(0, 12)
        book.apply_snapshot(
            [(rng.randint(1, 49) * 10_000, rng.randint(1, 999) * 10_000) for _ in range(levels)],
            [(rng.randint(51, 99) * 10_000, rng.randint(1, 999) * 10_000) for _ in range(levels)],
            ts_recv_ms=0,
        )
        books[(f"m{m % 7:02d}", f"o{m}")] = book
    batch = SnapshotBatch()
    keys = list(books)
    for ts in range(200):
        market, outcome = rng.choice(keys)
        batch.append_book(1_000 + ts // 3, "v", market, outcome, books[(market, outcome)], 0, None)

    def rows(table):  # NaN != NaN: compare missing best prices as None
        return [
            {k: None if isinstance(v, float) and v != v else v for k, v in r.items()}
            for r in table.to_pylist()
        ]

    expected = rows(sort_rows(batch.to_table()))
    assert rows(batch.to_table(sort=True)) == expected
    assert rows(batch.to_table()) != expected  # the input really was out of order
