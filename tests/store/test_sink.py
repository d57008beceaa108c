from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pmtape.core.errors import StoreError
from pmtape.store.atomic import tmp_path_for
from pmtape.store.files import read_snapshots, read_table
from pmtape.store.layout import bucket_start_ms, snapshot_path
from pmtape.store.parquet import ParquetSink, WriterSettings, split_by_bucket
from pmtape.store.rows import SnapshotBatch
from tests.helpers import eventually_sync
from tests.store.factories import make_book, snapshot_table, trade_batch, utc_ms

T0 = utc_ms("2024-06-01T23:56:00")
B0 = bucket_start_ms(T0, 5)  # 23:55
B1 = B0 + 5 * 60_000  # 00:00 the next day
SLOW = {"flush_s": 3600.0, "flush_rows": 1_000_000}


@pytest.fixture
def sinks() -> Iterator[list[ParquetSink]]:
    made: list[ParquetSink] = []
    yield made
    for sink in made:
        sink.close()


def _sink(sinks: list[ParquetSink], data: Path, start: bool = True, **cfg: float) -> ParquetSink:
    sink = ParquetSink(data, WriterSettings(**cfg))
    sinks.append(sink.start() if start else sink)
    return sink


def _file(data: Path, bucket: int, table: str = "snapshots") -> Path:
    return snapshot_path(data, table, "sim", bucket)


def _rows(data: Path) -> int:
    return read_snapshots(data).num_rows


def test_split_by_bucket() -> None:
    table = snapshot_table([B1 + 1, B0, B1 - 1, B1])
    pieces = split_by_bucket(table, 5 * 60_000)
    assert [(b, t.column("ts_recv").to_pylist()) for b, t in pieces] == [
        (B0, [B0, B1 - 1]),
        (B1, [B1 + 1, B1]),
    ]
    assert split_by_bucket(table.slice(0, 0), 60_000) == []


def test_bucket_change_flushes_the_older_bucket(tmp_path: Path, sinks: list[ParquetSink]) -> None:
    sink = _sink(sinks, tmp_path, **SLOW)
    sink.submit("snapshots", "sim", snapshot_table([T0, T0 + 1]))
    sink.submit("snapshots", "sim", snapshot_table([B1 + 5]))
    eventually_sync(lambda: _file(tmp_path, B0).exists())
    assert pq.read_metadata(_file(tmp_path, B0)).num_rows == 2
    assert not _file(tmp_path, B1).exists()
    assert _file(tmp_path, B1).parent.name == "hour=00"
    sink.close()
    assert pq.read_metadata(_file(tmp_path, B1)).num_rows == 1


def test_a_batch_spanning_buckets_is_split(tmp_path: Path, sinks: list[ParquetSink]) -> None:
    sink = _sink(sinks, tmp_path, **SLOW)
    sink.submit("snapshots", "sim", snapshot_table([T0, B1 + 1, T0 + 2, B1 + 3]))
    eventually_sync(lambda: _file(tmp_path, B0).exists())
    sink.close()
    assert pq.read_table(_file(tmp_path, B0)).column("ts_recv").to_pylist() == [T0, T0 + 2]
    assert sorted(pq.read_table(_file(tmp_path, B1)).column("ts_recv").to_pylist()) == [
        B1 + 1,
        B1 + 3,
    ]


def test_flush_rows_triggers_a_flush(tmp_path: Path, sinks: list[ParquetSink]) -> None:
    sink = _sink(sinks, tmp_path, flush_rows=100, flush_s=3600.0)
    sink.submit("snapshots", "sim", snapshot_table([T0 + i for i in range(60)]))
    sink.submit("snapshots", "sim", snapshot_table([T0 + 100 + i for i in range(60)]))
    eventually_sync(lambda: sink.stats()["rows_written"] == 120)
    sink.submit("snapshots", "sim", snapshot_table([T0 + 500 + i for i in range(10)]))
    eventually_sync(lambda: sink.stats()["pending_rows"] == 10)
    assert sink.stats()["rows_written"] == 120
    sink.close()
    assert sink.stats()["rows_written"] == 130
    assert sorted(p.name for p in _file(tmp_path, B0).parent.iterdir()) == [
        _file(tmp_path, B0).name,
        _file(tmp_path, B0).name.replace(".parquet", "_1.parquet"),
    ]


def test_flush_secs_flushes_and_later_flushes_grow_one_file(
    tmp_path: Path, sinks: list[ParquetSink]
) -> None:
    sink = _sink(sinks, tmp_path, flush_rows=1_000, flush_s=0.1)
    for round_ in range(3):
        sink.submit("snapshots", "sim", snapshot_table([T0 + 10 * round_ + i for i in range(5)]))
        eventually_sync(lambda n=round_: sink.stats()["flushes"] == n + 1)
    stats = sink.stats()
    assert (stats["rows_written"], stats["files_written"]) == (15, 1)
    assert os.listdir(_file(tmp_path, B0).parent) == [_file(tmp_path, B0).name]
    table = pq.read_table(_file(tmp_path, B0))
    markets, stamps = table.column("market_id").to_pylist(), table.column("ts_recv").to_pylist()
    keys = list(zip(markets, stamps, strict=True))
    assert keys == sorted(keys)
    assert len(set(keys)) == 15
    assert stats["bytes_written"] > 0
    assert stats["last_flush_ms"] > 0


def test_queue_overflow_is_counted_never_blocks(tmp_path: Path, sinks: list[ParquetSink]) -> None:
    sink = _sink(sinks, tmp_path, start=False, queue_max_batches=2, **SLOW)
    accepted = [sink.submit("snapshots", "sim", snapshot_table([T0 + i])) for i in range(5)]
    assert accepted == [True, True, False, False, False]
    assert sink.stats()["dropped_rows"] == 3
    assert sink.stats()["queue_size"] == 2
    sink.close()
    assert sink.stats()["rows_written"] == 2
    assert sink.submit("snapshots", "sim", snapshot_table([T0])) is False
    assert sink.stats()["dropped_rows"] == 4
    assert sink.stats()["dropped_snapshot_rows"] == 4


def test_close_flushes_every_table_and_venue(tmp_path: Path, sinks: list[ParquetSink]) -> None:
    sink = _sink(sinks, tmp_path, **SLOW)
    builder = SnapshotBatch()
    builder.append_book(T0, "sim", "m", "o", make_book([(0.4, 1)], [(0.6, 2)]), T0, None)
    sink.submit("snapshots", "sim", builder)
    sink.submit("snapshots", "other", snapshot_table([T0, T0 + 1], venue="other"))
    sink.submit("trades", "sim", trade_batch([T0, B1 + 1, T0 + 2]))
    sink.close()
    sink.close()  # idempotent
    assert _rows(tmp_path) == 3
    assert read_table(tmp_path, "trades").num_rows == 3
    assert _file(tmp_path, B1, "trades").exists()
    stats = sink.stats()
    assert (stats["rows_written"], stats["pending_rows"], stats["dropped_rows"]) == (6, 0, 0)
    assert stats["files_written"] == 4
    assert (stats["snapshot_rows_written"], stats["trade_rows_written"]) == (3, 3)


def test_write_error_is_counted_and_rows_written_later(
    tmp_path: Path, sinks: list[ParquetSink]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    blocker = data / "orderbook_snapshots"
    blocker.write_bytes(b"a file where the table directory should be")
    sink = _sink(sinks, data, flush_rows=1_000, flush_s=0.05)
    sink.submit("snapshots", "sim", snapshot_table([T0 + i for i in range(7)]))
    eventually_sync(lambda: sink.stats()["errors"] >= 2)
    assert sink.stats()["rows_written"] == 0
    assert sink.stats()["pending_rows"] == 7
    blocker.unlink()
    eventually_sync(lambda: sink.stats()["rows_written"] == 7)
    sink.submit("snapshots", "sim", snapshot_table([T0 + 100]))
    eventually_sync(lambda: sink.stats()["rows_written"] == 8)  # the thread is still alive
    sink.close()
    assert _rows(data) == 8


def test_rows_unwritable_at_close_are_counted(tmp_path: Path, sinks: list[ParquetSink]) -> None:
    (tmp_path / "orderbook_snapshots").write_bytes(b"")
    sink = _sink(sinks, tmp_path, **SLOW)
    sink.submit("snapshots", "sim", snapshot_table([T0, T0 + 1]))
    sink.close()
    stats = sink.stats()
    assert (stats["dropped_rows"], stats["rows_written"], stats["errors"]) == (2, 0, 1)


def test_start_removes_stale_temp_files(tmp_path: Path, sinks: list[ParquetSink]) -> None:
    target = _file(tmp_path, B0)
    target.parent.mkdir(parents=True)
    stale = target.with_name(tmp_path_for(target).name.replace(f"-{os.getpid()}-", "-999999999-"))
    stale.write_bytes(b"half a file")
    sink = _sink(sinks, tmp_path, **SLOW)
    eventually_sync(lambda: not stale.exists())
    sink.close()


def test_bad_arguments_are_refused(tmp_path: Path, sinks: list[ParquetSink]) -> None:
    sink = _sink(sinks, tmp_path, start=False)
    with pytest.raises(StoreError):
        sink.submit("books", "sim", snapshot_table([T0]))
    with pytest.raises(StoreError):
        sink.submit("snapshots", "../escape", snapshot_table([T0]))
    assert sink.submit("snapshots", "sim", SnapshotBatch()) is True  # empty: nothing to do
    sink.close()
    assert not any(tmp_path.iterdir())


def test_close_without_start_writes_synchronously(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path / "data", WriterSettings(**SLOW))
    sink.submit("snapshots", "sim", snapshot_table([T0, B1]))
    sink.close()
    assert _rows(tmp_path / "data") == 2


def test_close_from_a_signal_handler_flushes(tmp_path: Path, sinks: list[ParquetSink]) -> None:
    sink = _sink(sinks, tmp_path, **SLOW)
    previous = signal.signal(signal.SIGUSR1, lambda *_: sink.close())
    try:
        sink.submit("snapshots", "sim", snapshot_table([T0, T0 + 1, T0 + 2]))
        signal.raise_signal(signal.SIGUSR1)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert sink.stats()["rows_written"] == 3
    assert _rows(tmp_path) == 3
