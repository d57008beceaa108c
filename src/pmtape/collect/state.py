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
from pmtape.core.events import TickSize, Trade
from pmtape.core.instrument import Instrument
from pmtape.core.snapshot import AUDIT_ERR_PREFIX
from pmtape.store.rows import SnapshotBatch, TradeBatch
from pmtape.venues.base import Normalizer

log = logging.getLogger(__name__)


class VenueBooks(BookState):
    """The subscribed books of one venue, fed frames, producing snapshot and trade rows."""

    def __init__(
        self,
        venue: str,
        normalizer: Normalizer,
        top_k: int,
        stale_after_ms: int | None,
        pair_tolerance_e6: int = 10_000,
    ) -> None:
        super().__init__(venue, top_k)
        self.normalizer = normalizer
        self.stale_after_ms = stale_after_ms
        self.pair_tolerance_e6 = pair_tolerance_e6
        # poll key -> tick e6 of a kept book where known: discovery's, then the venue's word
        self.ticks: dict[str, int] = {}
        self.pairs: dict[str, str] = {}  # poll key -> the other book of its binary market
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

    def add(self, instruments: Iterable[Instrument]) -> None:
        """Start keeping books; note each one's tick and binary sibling for the row audits."""
        instruments = list(instruments)
        super().add(instruments)
        self.normalizer.learn(instruments)  # market settings its frames leave out
        for inst in instruments:
            if inst.tick_e6 > 0:
                self.ticks[inst.poll_key] = inst.tick_e6
            else:
                self.ticks.pop(inst.poll_key, None)
        self._pair_up({inst.market_id for inst in instruments})

    def remove(self, keys: Iterable[str]) -> list[Instrument]:
        """Forget these books (and their pairings)."""
        gone = super().remove(keys)
        for inst in gone:
            self.ticks.pop(inst.poll_key, None)
            other = self.pairs.pop(inst.poll_key, None)
            if other is not None:
                self.pairs.pop(other, None)
        return gone

    def _pair_up(self, markets: set[str]) -> None:
        members: dict[str, list[str]] = {m: [] for m in markets}
        for inst in self.by_poll.values():
            if inst.market_id in members:
                members[inst.market_id].append(inst.poll_key)
        for keys in members.values():
            if len(keys) == 2:  # a binary pair: two books of one market
                self.pairs[keys[0]], self.pairs[keys[1]] = keys[1], keys[0]

    def snapshot(self, keys: Iterable[str], now_ms: int) -> int:
        """Append a snapshot row for each of these instrument keys; return how many."""
        batch = self.snapshots
        books = self.books
        pairs = self.pairs
        ticks = self.ticks
        n = 0
        for key in keys:
            inst = self.by_key.get(key)
            if inst is None:
                continue
            poll = inst.poll_key
            other = pairs.get(poll)
            book = books[poll]
            bad = batch.append_book(
                now_ms,
                self.venue,
                inst.market_id,
                inst.instrument_id,
                book,
                now_ms,
                self.stale_after_ms,
                ticks.get(poll, 0),
                None if other is None else books.get(other),
                self.pair_tolerance_e6,
            )
            if bad is None and book.stale_reason is not None:
                bad = _refused(book.stale_reason)
            if bad is not None:
                counters = self.counters
                counters["audit_rows"] += 1
                for name in bad:
                    counters["audit_" + name] += 1
            n += 1
        return n

    def take_rows(self) -> tuple[SnapshotBatch, TradeBatch]:
        """Hand over the rows accumulated so far and start new batches."""
        out = (self.snapshots, self.trades)
        self.snapshots = SnapshotBatch()
        self.trades = TradeBatch()
        return out

    def _on_tick(self, ev: TickSize) -> None:
        """Audit the book's later rows against the tick the venue now states."""
        super()._on_tick(ev)
        if ev.tick_e6 > 0:
            self.ticks[ev.key] = ev.tick_e6

    def _on_trade(self, ev: Trade, book: Book) -> None:
        inst = self.by_poll[ev.key]
        self.trades.append_trade(self.venue, inst.market_id, inst.instrument_id, book.seq, ev)
        self.counters["trades"] += 1


def _refused(stale_reason: str) -> list[str] | None:
    """Return the audits a book's refused levels failed (its stale reason names them)."""
    if stale_reason.startswith(AUDIT_ERR_PREFIX):
        return stale_reason[len(AUDIT_ERR_PREFIX) :].split(",")
    return None
