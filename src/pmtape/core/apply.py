"""Canonical events applied to books: the pure state that live collection, rebuild and replay share.

Deterministic given the same calls in the same order: no clock, no I/O, nothing of a venue.
``BookState`` keeps one book per subscribed instrument (by poll key) and applies events to them;
what a caller does with trades, top-of-book checks and retired markets beyond counting them is
its own business (``collect.state.VenueBooks`` turns them into rows).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from pmtape.core.book import Book
from pmtape.core.events import (
    BookDelta,
    BookSnapshot,
    BookStale,
    Event,
    MarketStatus,
    TickSize,
    TopOfBook,
    Trade,
)
from pmtape.core.instrument import Instrument

log = logging.getLogger(__name__)

RETIRING_STATUSES = frozenset({"resolved", "closed", "settled"})


class BookState:
    """The books of one venue's subscribed instruments and the counters of applying events."""

    def __init__(self, venue: str, top_k: int) -> None:
        self.venue = venue
        self.top_k = top_k
        self.books: dict[str, Book] = {}  # poll_key -> book
        self.by_poll: dict[str, Instrument] = {}  # poll_key -> instrument
        self.by_key: dict[str, Instrument] = {}  # instrument_key -> instrument
        self.counters: Counter[str] = Counter()
        self.retired: set[str] = set()  # instrument keys whose market the venue closed
        # Market status events kept for a caller that acts on them (the live collector adds
        # new markets and drops resolved ones at once); None: not kept (rebuild, replay).
        self.lifecycle: list[MarketStatus] | None = None

    def add(self, instruments: Iterable[Instrument]) -> None:
        """Start keeping a book for each instrument (empty until its first snapshot)."""
        for inst in instruments:
            self.by_key[inst.instrument_key] = inst
            self.by_poll[inst.poll_key] = inst
            self.books[inst.poll_key] = Book(self.top_k)

    def remove(self, keys: Iterable[str]) -> list[Instrument]:
        """Forget the books of these instrument keys; return the instruments removed."""
        gone = []
        for key in keys:
            inst = self.by_key.pop(key, None)
            if inst is not None:
                self.by_poll.pop(inst.poll_key, None)
                self.books.pop(inst.poll_key, None)
                gone.append(inst)
        return gone

    def apply_events(self, events: Iterable[Event]) -> None:
        """Apply canonical events to the books they name (unknown keys are counted)."""
        books = self.books
        for ev in events:
            kind = type(ev)
            if kind is MarketStatus:
                self._on_market_status(ev)  # type: ignore[arg-type]
                continue
            book = books.get(ev.key)  # type: ignore[union-attr]
            if book is None:
                self.counters["unrouted_events"] += 1
            elif kind is BookDelta:
                book.apply_changes(ev.changes, ev.ts_recv_ms, ev.ts_event_ms)  # type: ignore[union-attr]
            elif kind is BookSnapshot:
                book.apply_snapshot(ev.bids, ev.asks, ev.ts_recv_ms, ev.ts_event_ms)  # type: ignore[union-attr]
                if ev.stale_reason is not None:  # type: ignore[union-attr]
                    book.mark_stale(ev.stale_reason)  # type: ignore[union-attr]
            elif kind is Trade:
                self._on_trade(ev, book)  # type: ignore[arg-type]
            elif kind is TopOfBook:
                self._check_top(ev, book)  # type: ignore[arg-type]
            elif kind is TickSize:
                self._on_tick(ev)  # type: ignore[arg-type]
            elif kind is BookStale:
                book.mark_stale(ev.reason)  # type: ignore[union-attr]
                self.counters["books_refused"] += 1

    def book_progress(self, key: str) -> tuple[int, int] | None:
        """Return (full books applied, updates applied) of a poll key's book, or None."""
        book = self.books.get(key)
        return None if book is None else (book.snapshots, book.seq)

    def market_of(self, key: str) -> str | None:
        """Return the market of a poll key, or None if it has no book here."""
        inst = self.by_poll.get(key)
        return None if inst is None else inst.market_id

    def session_event(self, stream: str, kind: str, detail: dict[str, Any]) -> None:
        """Apply a session lifecycle event: a disconnect makes its books stale."""
        self.counters[f"session_{kind}"] += 1
        if kind != "disconnected":
            return
        keys = detail.get("keys")
        targets = self.books.values() if keys is None else filter(None, map(self.books.get, keys))
        for book in targets:
            book.mark_stale(f"{stream} disconnected")

    def _on_trade(self, ev: Trade, book: Book) -> None:
        self.counters["trades"] += 1

    def _on_tick(self, ev: TickSize) -> None:
        self.counters["tick_changes"] += 1

    def _check_top(self, ev: TopOfBook, book: Book) -> None:
        self.counters["tob_checks"] += 1
        bb = book.best_bid()
        ba = book.best_ask()
        if (bb[0] if bb else None) != ev.bid_px_e6 or (ba[0] if ba else None) != ev.ask_px_e6:
            self.counters["tob_mismatches"] += 1

    def _on_market_status(self, ev: MarketStatus) -> None:
        self.counters[f"market_{ev.status}"] += 1
        if self.lifecycle is not None:
            self.lifecycle.append(ev)
        if ev.status in RETIRING_STATUSES:
            for poll_key in ev.keys:
                inst = self.by_poll.get(poll_key)
                if inst is not None:
                    self.retired.add(inst.instrument_key)
