"""The persister: a thread that turns fetched pages into bronze parts, then commits cursors.

Fetch workers put one ``PageItem`` per answer (its rows, may be none; the key's cursor
after it; what the request came to) on a bounded queue. The thread buffers them and, when
a table holds ``flush_rows`` rows or ``flush_interval_s`` has passed (or at close):

1. writes the buffer as one part per table under the day it lands (``dt``, UTC; atomic,
   fsynced) and flushes the raw capture;
2. applies the buffered cursors and ledger counts and commits ``cursor.json`` in one
   atomic rename; only then are those pages "stored";
3. rewrites ``MANIFEST.sha256`` and ``ledger.parquet`` from the committed state.

A SIGKILL before 2 leaves parts no commit lists; ``CursorStore.open`` removes them and the
next run fetches those pages again. A write error stops the thread and is raised to the
run (``error``); nothing is committed past what was written.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from pmtape.core.errors import PmtapeError, StoreError
from pmtape.history.bronze import (
    TS_FIELD,
    dt_of,
    part_path,
    split_by_dt,
    to_arrow,
    write_manifest,
    write_part,
)
from pmtape.history.ledger import write_ledger
from pmtape.history.state import CursorStore, DtCount, KeyCursor, KeyLedger, Outcomes


@dataclass(slots=True)
class PageItem:
    """One answer of a key's feed, as a worker hands it over."""

    table: str
    key: str
    rows: list[Any]
    cursor: KeyCursor
    outcomes: Outcomes
    gave_up: bool = False


@dataclass(slots=True)
class _Buffer:
    items: list[PageItem] = field(default_factory=list)
    rows: int = 0


class Persister:
    """The thread between the fetch workers and the bronze files (see the module docstring)."""

    def __init__(
        self,
        store: CursorStore,
        *,
        flush_rows: int = 10_000,
        flush_interval_s: float = 2.0,
        queue_items: int = 256,
        before_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self.before_commit = before_commit
        self.queue: queue.Queue[PageItem | None] = queue.Queue(maxsize=queue_items)
        self.error: BaseException | None = None
        self.rows_stored = 0
        self.parts_written = 0
        self.commits = 0
        self._buffer = _Buffer()
        self._thread = threading.Thread(target=self._run, name="history-persister", daemon=True)

    def start(self) -> Persister:
        """Start the thread."""
        self._thread.start()
        return self

    def put(self, item: PageItem, timeout_s: float | None = None) -> None:
        """Hand over one page (blocks while the queue is full); raise if the thread died."""
        if self.error is not None:
            raise self.error
        self.queue.put(item, timeout=timeout_s)

    def put_nowait(self, item: PageItem) -> None:
        """Hand over one page now; ``queue.Full`` when the queue is full."""
        if self.error is not None:
            raise self.error
        self.queue.put_nowait(item)

    def close(self) -> None:
        """Store everything handed over, stop the thread, and raise its error if it had one."""
        if self._thread.is_alive():
            self.queue.put(None)
            self._thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        last_flush = time.monotonic()
        try:
            while True:
                wait = max(0.0, last_flush + self.flush_interval_s - time.monotonic())
                try:
                    item = self.queue.get(timeout=wait)
                except queue.Empty:
                    item = PageItem("", "", [], KeyCursor(), Outcomes())  # a timer tick
                if item is None:
                    self._flush()
                    return
                if item.table:
                    self._buffer.items.append(item)
                    self._buffer.rows += len(item.rows)
                due = time.monotonic() - last_flush >= self.flush_interval_s
                if self._buffer.rows >= self.flush_rows or (due and self._buffer.items):
                    self._flush()
                    last_flush = time.monotonic()
                elif due:
                    last_flush = time.monotonic()
        except PmtapeError as exc:  # handed to the run, which stops and reports it
            self.error = exc
            self._drain()
        except Exception as exc:  # a full disk, a pyarrow error: one line for the user
            self.error = StoreError(f"history: storing pages failed: {exc!r}")
            self.error.__cause__ = exc
            self._drain()

    def _drain(self) -> None:
        # Unblock workers waiting on a full queue; what they hand over is never committed.
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                return

    def _flush(self) -> None:
        buffer, self._buffer = self._buffer, _Buffer()
        if not buffer.items:
            return
        store = self.store
        state = store.state
        by_table: dict[str, list[Any]] = {}
        for item in buffer.items:
            if item.rows:  # a page without rows moves a cursor or a count, never a file
                by_table.setdefault(item.table, []).extend(item.rows)
        dt = dt_of(time.time_ns() // 1_000_000_000)
        for table, rows in by_table.items():
            rel = part_path(table, dt, state.next_part)
            state.parts[rel] = write_part(store.root, table, rel, to_arrow(table, rows))
            state.next_part += 1
            self.parts_written += 1
        self.before_commit()
        for item in buffer.items:
            self._apply(item)
        store.commit()
        self.commits += 1
        self.rows_stored += buffer.rows
        write_manifest(store.root, state.parts)
        write_ledger(store.root, state)

    def _apply(self, item: PageItem) -> None:
        self.store.cursors(item.table)[item.key] = item.cursor
        entry = self.store.ledger(item.table).setdefault(item.key, KeyLedger())
        entry.outcomes.add(item.outcomes)
        entry.gave_up = item.gave_up
        get_ts = attrgetter(TS_FIELD[item.table])
        for dt, rows in split_by_dt(item.table, item.rows).items():
            times = [get_ts(r) for r in rows]
            count = entry.dts.setdefault(dt, DtCount())
            count.rows += len(rows)
            lo, hi = min(times), max(times)
            count.first_ts = lo if count.first_ts is None else min(count.first_ts, lo)
            count.last_ts = hi if count.last_ts is None else max(count.last_ts, hi)
