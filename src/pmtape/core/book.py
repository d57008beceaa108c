"""One instrument's order book in integer e6, with a cached top-K.

Levels live in plain dicts (price -> size). The top-K price list per side is cached and only
re-sorted after a change landed at or inside it, so an unchanged or deep-only-changed book
costs nothing to snapshot again. Sizes are read fresh from the dict on every snapshot.

This module is compiled by Cython when pmtape is installed (``book.pxd`` declares ``Book``
as an extension type with C fields, so a venue's compiled normalizer can apply levels
without Python calls); without a compiler the same source runs as plain Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pmtape.core.events import Change, Level

_NO_FLOOR = -1
_NO_CEIL = 1 << 62


class BookStatus(StrEnum):
    OK = "ok"
    STALE = "stale"
    PARTIAL = "partial"
    EMPTY = "empty"


class Book:
    """Bids and asks of one instrument, its processing seq and freshness."""

    def __init__(self, top_k: int = 50) -> None:
        self.top_k = top_k
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.seq = 0
        self.last_recv_ms: int | None = None
        self.source_ts_ms: int | None = None
        self.stale_reason: str | None = None
        self._bid_top: list[int] | None = None
        self._ask_top: list[int] | None = None
        self._bid_floor = _NO_FLOOR
        self._ask_ceil = _NO_CEIL

    def apply_snapshot(
        self,
        bids: Iterable[Level],
        asks: Iterable[Level],
        ts_recv_ms: int,
        ts_event_ms: int | None = None,
    ) -> None:
        """Replace the whole book; a fresh venue snapshot also clears a stale mark."""
        self.bids = {px: sz for px, sz in bids if sz}
        self.asks = {px: sz for px, sz in asks if sz}
        self._bid_top = self._ask_top = None
        self._bid_floor = _NO_FLOOR
        self._ask_ceil = _NO_CEIL
        self.stale_reason = None
        self.touch(ts_recv_ms, ts_event_ms)

    def apply_changes(
        self, changes: Iterable[Change], ts_recv_ms: int, ts_event_ms: int | None = None
    ) -> None:
        """Apply absolute level updates in order (size 0 removes the level)."""
        for side, px, sz in changes:
            self.apply_level(side, px, sz)
        self.touch(ts_recv_ms, ts_event_ms)

    def apply_level(self, side: int, px: int, sz: int) -> None:
        """Set one level's size (0 removes it); call ``touch`` once the update is complete."""
        if side == 0:
            if sz:
                self.bids[px] = sz
            else:
                self.bids.pop(px, None)
            if px >= self._bid_floor:
                self._bid_top = None
                self._bid_floor = _NO_FLOOR
        else:
            if sz:
                self.asks[px] = sz
            else:
                self.asks.pop(px, None)
            if px <= self._ask_ceil:
                self._ask_top = None
                self._ask_ceil = _NO_CEIL

    def touch(self, ts_recv_ms: int, ts_event_ms: int | None) -> None:
        """Count one applied update (the book's seq) and when it was received and stamped."""
        self.seq += 1
        self.last_recv_ms = ts_recv_ms
        if ts_event_ms is not None:
            self.source_ts_ms = ts_event_ms

    def mark_stale(self, reason: str) -> None:
        """Mark the book untrustworthy until the next full snapshot."""
        self.stale_reason = reason

    def bid_prices(self) -> list[int]:
        """Return the top-K bid prices, best (highest) first."""
        top = self._bid_top
        if top is None:
            top = sorted(self.bids, reverse=True)[: self.top_k]
            self._bid_top = top
            self._bid_floor = top[-1] if len(top) >= self.top_k else _NO_FLOOR
        return top

    def ask_prices(self) -> list[int]:
        """Return the top-K ask prices, best (lowest) first."""
        top = self._ask_top
        if top is None:
            top = sorted(self.asks)[: self.top_k]
            self._ask_top = top
            self._ask_ceil = top[-1] if len(top) >= self.top_k else _NO_CEIL
        return top

    def best_bid(self) -> Level | None:
        """Return (px, sz) of the best bid, or None (no sort: the cached top or one scan)."""
        top = self._bid_top
        if top is not None:
            return (top[0], self.bids[top[0]]) if top else None
        if not self.bids:
            return None
        px = max(self.bids)
        return (px, self.bids[px])

    def best_ask(self) -> Level | None:
        """Return (px, sz) of the best ask, or None (no sort: the cached top or one scan)."""
        top = self._ask_top
        if top is not None:
            return (top[0], self.asks[top[0]]) if top else None
        if not self.asks:
            return None
        px = min(self.asks)
        return (px, self.asks[px])

    def status(self, now_ms: int, stale_after_ms: int | None) -> tuple[BookStatus, str | None]:
        """Return the book's status and, when not ok, why."""
        if self.stale_reason is not None:
            return BookStatus.STALE, self.stale_reason
        if self.last_recv_ms is None:
            return BookStatus.STALE, "no data yet"
        if stale_after_ms is not None and now_ms - self.last_recv_ms > stale_after_ms:
            return BookStatus.STALE, f"no update for {(now_ms - self.last_recv_ms) // 1000}s"
        if not self.bids:
            if not self.asks:
                return BookStatus.EMPTY, None
            return BookStatus.PARTIAL, "no bids"
        if not self.asks:
            return BookStatus.PARTIAL, "no asks"
        return BookStatus.OK, None
