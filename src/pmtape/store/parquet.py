"""The Parquet writer: time-bucketed archive files, written by a thread off the receive loop.

``submit()`` never blocks: it puts the batch on a bounded queue or, when the queue is full (or the
sink closed), drops it and counts its rows in ``dropped_rows``. The thread converts batches to
Arrow, splits them by time bucket and buffers rows per (table, venue, bucket). A buffer is flushed
when a row of a later bucket arrives for its table and venue, when it holds ``flush_rows`` rows,
or ``flush_s`` after its first row arrived. A failed flush (disk full, permissions, …) is
counted in ``errors`` and logged; its rows stay buffered and are retried with backoff.
``close()`` flushes everything and joins the thread. The queue is a ``queue.SimpleQueue``, whose
``put`` is reentrant, so ``close()`` may run from a signal handler that interrupted ``submit()``.

Flush policy for several flushes into one bucket. Every flush is durable (fsync'd), atomic (temp
file + rename) and leaves only complete, readable files:

* if the bucket's newest file holds fewer than ``flush_rows`` rows, the flush rewrites it as old
  rows + new rows (read back, concatenate, sort, write a temp file, one ``os.replace``), so no
  reader ever sees a duplicate row or a partial file;
* once that file holds ``flush_rows`` rows or more, the next flush starts a new part
  ``snapshots_YYYY-MM-DDTHH-mm_1.parquet`` (then ``_2``, …).

A bucket is therefore normally ONE file named exactly as the layout, a busy bucket a few files of
at least ``flush_rows`` rows each, and small files never pile up. The price is rewriting: a bucket
of N rows flushed F times by the timer rewrites about F·N/2 rows, a few percent of one core at
the rates pmtape records. A part that cannot be read back is left alone and a new part started.
Stale temp files of dead writers are removed when the thread starts.

``stats()``: rows_written (new rows on disk; ``snapshot_rows_written``/``trade_rows_written`` split
it by table), files_written (files created; rewriting a bucket's file is not a new file), flushes,
last_flush_ms, bytes_written (every byte written, rewrites included), queue_size, dropped_rows
(``dropped_snapshot_rows``/``dropped_trade_rows``), errors, pending_rows (buffered, unwritten).
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final, TypeAlias

import numpy as np
import pyarrow as pa

from pmtape.core.clock import mono_s, now_ms
from pmtape.store.atomic import cleanup_stale_tmp_tree
from pmtape.store.files import read_snapshots, read_table, sort_rows, write_bucket, write_parquet
from pmtape.store.layout import (
    SNAPSHOTS,
    TABLES,
    TRADES,
    TableKind,
    bucket_start_ms,
    check_name,
    snapshot_path,
    table_spec,
)
from pmtape.store.rows import SnapshotBatch, TradeBatch

__all__ = [
    "SNAPSHOTS",
    "TRADES",
    "ParquetSink",
    "TableKind",
    "WriterSettings",
    "bucket_start_ms",
    "read_snapshots",
    "read_table",
    "snapshot_path",
    "sort_rows",
    "split_by_bucket",
    "write_bucket",
    "write_parquet",
]

log = logging.getLogger(__name__)

Batch: TypeAlias = "SnapshotBatch | TradeBatch | pa.Table"
_Key = tuple[str, str, int]  # (table kind, venue, bucket start ms)
_STOP: Final = object()
_RETRY_MAX_S = 60.0
_DROP_LOG_EVERY_S = 10.0
_SINGULAR: Final = {SNAPSHOTS: "snapshot", TRADES: "trade"}


@dataclass(frozen=True, slots=True)
class WriterSettings:
    """The Parquet writer's numbers: when to flush, how long a file bucket is, compression."""

    flush_rows: int = 50_000
    """Flush a venue's buffer at this many rows."""
    flush_s: float = 5.0
    """Flush at least this often."""
    bucket_minutes: int = 5
    """File bucket length; divides 60."""
    compression_level: int = 3
    """zstd level."""
    queue_max_batches: int = 1024
    """Writer queue bound (overflow counted)."""


@dataclass
class _Pending:
    first_mono: float
    # Snapshot batches that lie in one bucket stay unconverted until the flush, which then
    # builds the table already in archive order (cheaper than converting, then sorting).
    tables: list[pa.Table | SnapshotBatch] = field(default_factory=list)
    rows: int = 0
    failures: int = 0
    retry_mono: float = 0.0


def split_by_bucket(table: pa.Table, bucket_ms: int) -> list[tuple[int, pa.Table]]:
    """Split ``table`` into (bucket start ms, rows) by ``ts_recv``, oldest bucket first."""
    if table.num_rows == 0:
        return []
    ts = table.column("ts_recv").to_numpy()
    buckets = ts - ts % bucket_ms
    first = int(buckets[0])
    if bool(np.all(buckets == first)):
        return [(first, table)]
    return [(int(b), table.filter(pa.array(buckets == b))) for b in np.unique(buckets)]


class ParquetSink:
    """Buffer snapshot and trade rows per venue and time bucket; write them from one thread."""

    def __init__(
        self,
        data_dir: Path,
        settings: WriterSettings | None = None,
        *,
        shard: str | None = None,
        max_pending_rows: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.settings = settings or WriterSettings()
        self.shard = None if shard is None else check_name("shard", shard)
        self._bucket_ms = self.settings.bucket_minutes * 60_000
        self._max_pending = max_pending_rows or 8 * self.settings.flush_rows
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._pending: dict[_Key, _Pending] = {}
        self._latest: dict[tuple[str, str], int] = {}
        self._thread: threading.Thread | None = None
        self._closing = False
        self._closed = False
        self._close_lock = threading.Lock()
        # Re-entrant: close() in a signal handler may interrupt submit() holding it.
        self._drop_lock = threading.RLock()
        self._drop_logged = -_DROP_LOG_EVERY_S
        counters = ["rows_written", "files_written", "flushes", "last_flush_ms", "bytes_written"]
        counters += ["dropped_rows", "errors", "pending_rows"]
        for name in ("snapshot", "trade"):  # per-table splits of rows_written / dropped_rows
            counters += [f"{name}_rows_written", f"dropped_{name}_rows"]
        self._stats = dict.fromkeys(counters, 0)

    def start(self) -> ParquetSink:
        """Start the writer thread (after removing temp files dead writers left)."""
        if self._thread is None and not self._closing:
            self._thread = threading.Thread(target=self._run, name="pmtape-parquet", daemon=True)
            self._thread.start()
            # The thread is a daemon so a missing close() cannot hang exit; this still flushes.
            atexit.register(self.close)
        return self

    def submit(self, table_kind: str, venue: str, batch: Batch) -> bool:
        """Queue a batch (the sink owns it from now on); False when it was dropped and counted."""
        table_spec(table_kind)
        check_name("venue", venue)
        rows = len(batch)
        if rows == 0:
            return True
        if self._closing:
            self._count_dropped(table_kind, rows, "sink is closed")
            return False
        if self._queue.qsize() >= self.settings.queue_max_batches:
            self._count_dropped(table_kind, rows, "writer queue full")
            return False
        self._queue.put((table_kind, venue, batch))
        if self._closed:  # close() finished between the check above and the put
            self._drop_queued("sink is closed")
            return False
        return True

    def close(self, timeout_s: float | None = None) -> None:
        """Flush every buffered row and stop the thread; idempotent, safe from signal handlers."""
        self._closing = True
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            self._queue.put(_STOP)
            thread.join(timeout_s)
            if thread.is_alive():
                log.error(
                    "parquet writer still busy after %ss; %d rows pending",
                    timeout_s,
                    self._stats["pending_rows"],
                )
                return
        elif thread is None and self._close_lock.acquire(blocking=False):
            try:
                self._finish()
            finally:
                self._close_lock.release()
        self._closed = True
        atexit.unregister(self.close)
        self._drop_queued("sink is closed")

    def stats(self) -> dict[str, int]:
        """Return the writer's counters (a copy)."""
        out = dict(self._stats)
        out["queue_size"] = self._queue.qsize()
        return out

    def __enter__(self) -> ParquetSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- submit side -----------------------------------------------------------------------------

    def _count_dropped(self, table_kind: str, rows: int, why: str) -> None:
        with self._drop_lock:
            self._stats["dropped_rows"] += rows
            self._stats[f"dropped_{_SINGULAR[table_kind]}_rows"] += rows
            now = mono_s()
            if now - self._drop_logged >= _DROP_LOG_EVERY_S:
                self._drop_logged = now
                log.warning(
                    "%s: dropped %d rows (%d so far)", why, rows, self._stats["dropped_rows"]
                )

    def _drop_queued(self, why: str) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, tuple):
                self._count_dropped(item[0], len(item[2]), why)

    # -- writer thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._cleanup_tmp()
        except OSError as exc:
            log.warning("cannot clean temp files under %s: %s", self.data_dir, exc)
        while True:
            try:
                item = self._queue.get(timeout=self._wait_s())
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            try:
                if isinstance(item, tuple):
                    self._accept(*item)
                self._flush_due()
            except Exception:  # never let one bad batch or flush end the writer
                self._stats["errors"] += 1
                log.exception("parquet writer error")
        self._finish()

    def _finish(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, tuple):
                self._accept(*item)
        self._flush_due(force=True)
        for (table_kind, _, _), pending in self._pending.items():
            self._count_dropped(table_kind, pending.rows, "rows unwritable at close")
        self._pending.clear()
        self._stats["pending_rows"] = 0

    def _cleanup_tmp(self) -> None:
        removed = sum(cleanup_stale_tmp_tree(self.data_dir / s.directory) for s in TABLES.values())
        if removed:
            log.info("removed %d stale temp file(s) under %s", removed, self.data_dir)

    def _wait_s(self) -> float | None:
        if not self._pending:
            return None
        flush_s = self.settings.flush_s
        due = min(max(p.first_mono + flush_s, p.retry_mono) for p in self._pending.values())
        return min(max(due - mono_s(), 0.0), flush_s)

    def _accept(self, table_kind: str, venue: str, batch: Batch) -> None:
        if isinstance(batch, SnapshotBatch) and batch.ts_recv:
            lo = min(batch.ts_recv)
            bucket = lo - lo % self._bucket_ms
            if max(batch.ts_recv) < bucket + self._bucket_ms:
                self._add_piece(table_kind, venue, bucket, batch, len(batch))
                return
        try:
            table = batch if isinstance(batch, pa.Table) else batch.to_table()
            schema = table_spec(table_kind).schema
            if table.schema != schema:
                table = table.select(schema.names).cast(schema)
            pieces = split_by_bucket(table, self._bucket_ms)
        except Exception:
            log.exception("cannot convert a %s batch of %s", table_kind, venue)
            self._stats["errors"] += 1
            self._count_dropped(table_kind, len(batch), "unconvertible batch")
            return
        for bucket, rows in pieces:
            self._add_piece(table_kind, venue, bucket, rows, rows.num_rows)

    def _add_piece(
        self, kind: str, venue: str, bucket: int, rows: pa.Table | SnapshotBatch, n: int
    ) -> None:
        if self._stats["pending_rows"] + n > self._max_pending:
            self._count_dropped(kind, n, "too many rows waiting for the disk")
            return
        pending = self._pending.setdefault((kind, venue, bucket), _Pending(mono_s()))
        pending.tables.append(rows)
        pending.rows += n
        latest = self._latest.get((kind, venue), bucket)
        self._latest[(kind, venue)] = max(latest, bucket)
        self._stats["pending_rows"] += n

    def _flush_due(self, *, force: bool = False) -> None:
        now = mono_s()
        for key, pending in list(self._pending.items()):
            if force or self._is_due(key, pending, now):
                self._flush(key, pending, now)

    def _is_due(self, key: _Key, pending: _Pending, now: float) -> bool:
        if now < pending.retry_mono:
            return False
        kind, venue, bucket = key
        return (
            bucket < self._latest[(kind, venue)]
            or pending.rows >= self.settings.flush_rows
            or now - pending.first_mono >= self.settings.flush_s
        )

    def _flush(self, key: _Key, pending: _Pending, now: float) -> None:
        kind, venue, bucket = key
        rows, in_order = _combine(pending.tables)
        pending.tables = [rows]
        try:
            size, new_file = write_bucket(
                self.data_dir,
                kind,
                venue,
                bucket,
                rows,
                flush_rows=self.settings.flush_rows,
                compression_level=self.settings.compression_level,
                presorted=in_order,
                shard=self.shard,
            )
        except Exception as exc:
            pending.failures += 1
            backoff = min(self.settings.flush_s * 2 ** (pending.failures - 1), _RETRY_MAX_S)
            pending.retry_mono = now + backoff
            self._stats["errors"] += 1
            log.error(
                "writing %d %s rows of %s failed (%s: %s); retrying in %.1fs",
                rows.num_rows,
                kind,
                venue,
                type(exc).__name__,
                exc,
                backoff,
            )
            return
        del self._pending[key]
        stats = self._stats
        stats["pending_rows"] -= rows.num_rows
        stats["rows_written"] += rows.num_rows
        stats[f"{_SINGULAR[kind]}_rows_written"] += rows.num_rows
        stats["files_written"] += int(new_file)
        stats["flushes"] += 1
        stats["bytes_written"] += size
        stats["last_flush_ms"] = now_ms()


def _combine(pieces: list[pa.Table | SnapshotBatch]) -> tuple[pa.Table, bool]:
    """Return the pieces as one table, and whether it is already in archive order."""
    batches = [p for p in pieces if isinstance(p, SnapshotBatch)]
    if len(batches) == len(pieces):
        merged = SnapshotBatch()
        for batch in batches:
            merged.extend(batch)
        return merged.to_table(sort=True), True
    tables = [p.to_table() if isinstance(p, SnapshotBatch) else p for p in pieces]
    return (tables[0] if len(tables) == 1 else pa.concat_tables(tables)), False
