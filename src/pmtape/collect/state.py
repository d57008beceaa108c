"""A venue's books and the rows they yield: the state live collection and rebuild both drive.

Everything here is deterministic given the same calls in the same order: no clock, no I/O.
The live collector calls it from the receive loop and its own tasks; ``pmtape rebuild``
calls it from the frames and local events of a capture, and so gets the same rows. Applying
events to books is ``core.apply.BookState``; this adds the normalizer and the rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pmtape.core.apply import BookState
from pmtape.core.book import Book
from pmtape.core.events import Trade
from pmtape.store.rows import SnapshotBatch, TradeBatch
from pmtape.venues.base import Normalizer

log = logging.getLogger(__name__)


class VenueBooks(BookState):
    """The subscribed books of one venue, fed frames, producing snapshot and trade rows."""

    def __init__(
        self, venue: str, normalizer: Normalizer, top_k: int, stale_after_ms: int | None
    ) -> None:
        super().__init__(venue, top_k)
        self.normalizer = normalizer
        self.stale_after_ms = stale_after_ms
        self.snapshots = SnapshotBatch()
        self.trades = TradeBatch()

    def apply_frame(self, payload: bytes, ts_recv_ms: int) -> None:
        """Normalize one raw frame and apply its events (the hot path; never raises)."""
        try:
            self.apply_events(self.normalizer.ingest(payload, ts_recv_ms, self.books))
        except Exception:  # a bug must not stop the receive loop; the frame is in the capture
            counters = self.counters
            counters["apply_errors"] += 1
            if counters["apply_errors"] == 1:
                log.exception("%s: error applying a frame (counted; not logged again)", self.venue)

    def snapshot(self, keys: Iterable[str], now_ms: int) -> int:
        """Append a snapshot row for each of these instrument keys; return how many."""
        batch = self.snapshots
        n = 0
        for key in keys:
            inst = self.by_key.get(key)
            if inst is None:
                continue
            batch.append_book(
                now_ms,
                self.venue,
                inst.market_id,
                inst.instrument_id,
                self.books[inst.poll_key],
                now_ms,
                self.stale_after_ms,
            )
            n += 1
        return n

    def take_rows(self) -> tuple[SnapshotBatch, TradeBatch]:
        """Hand over the rows accumulated so far and start new batches."""
        out = (self.snapshots, self.trades)
        self.snapshots = SnapshotBatch()
        self.trades = TradeBatch()
        return out

    def _on_trade(self, ev: Trade, book: Book) -> None:
        inst = self.by_poll[ev.key]
        self.trades.append_trade(self.venue, inst.market_id, inst.instrument_id, book.seq, ev)
        self.counters["trades"] += 1
