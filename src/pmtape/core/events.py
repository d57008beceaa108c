"""Canonical events: what every venue's normalizer emits and the books consume.

Prices and sizes are fixed-point e6 integers. ``key`` is the instrument's ``poll_key``;
``ts_event_ms`` is the venue's stamp (None when it sent none), ``ts_recv_ms`` ours.
Sequence numbers are assigned by the book in processing order, not here.
"""

from __future__ import annotations

from enum import IntEnum

import msgspec


class Side(IntEnum):
    BID = 0
    ASK = 1


BID = 0
ASK = 1

Level = tuple[int, int]
"""(px_e6, sz_e6)"""
Change = tuple[int, int, int]
"""(side, px_e6, sz_e6); sz_e6 == 0 removes the level."""


class BookSnapshot(msgspec.Struct, gc=False):
    """A full book: replaces everything known about the instrument.

    ``stale_reason``: the venue's own check of this book failed (e.g. its hash); the book
    is applied and then marked stale with this reason until a good snapshot arrives.
    """

    key: str
    bids: list[Level]
    asks: list[Level]
    ts_event_ms: int | None
    ts_recv_ms: int
    stale_reason: str | None = None


class BookDelta(msgspec.Struct, gc=False):
    """Absolute level updates (new size at a price; 0 deletes), applied in order."""

    key: str
    changes: list[Change]
    ts_event_ms: int | None
    ts_recv_ms: int


class Trade(msgspec.Struct, gc=False):
    """A trade print; ``side`` is the aggressor ("buy"/"sell") when the venue says."""

    key: str
    px_e6: int
    sz_e6: int
    side: str | None
    ts_event_ms: int | None
    ts_recv_ms: int
    trade_id: str | None = None


class TopOfBook(msgspec.Struct, gc=False):
    """The venue's own statement of best bid/ask, used to cross-check our book."""

    key: str
    bid_px_e6: int | None
    bid_sz_e6: int | None
    ask_px_e6: int | None
    ask_sz_e6: int | None
    ts_event_ms: int | None
    ts_recv_ms: int


class MarketStatus(msgspec.Struct, gc=False):
    """A venue's word that a market appeared, closed or resolved (keys: its poll keys).

    A new market's event also carries what its venue sent to describe it (when it did), so
    the collector can build its instruments at once instead of waiting for discovery:
    ``outcomes`` (one per key, same order), ``title``, ``slug``, ``close_ts_ms``, ``tags``
    and ``event_slug`` (the parent event or series). All optional: a venue that says less
    leaves them None and the market waits for discovery.
    """

    market_id: str
    status: str
    keys: list[str]
    ts_event_ms: int | None
    ts_recv_ms: int
    outcomes: list[str] | None = None
    title: str | None = None
    slug: str | None = None
    close_ts_ms: int | None = None
    tags: list[str] | None = None
    event_slug: str | None = None


class BookStale(msgspec.Struct, gc=False):
    """The venue sent a book that could not be applied: keep the book, stale for ``reason``.

    E.g. a full book with a price outside (0, 1): its levels are refused (the book keeps
    what it had), and its rows say why until a good snapshot arrives.
    """

    key: str
    reason: str
    ts_recv_ms: int


class TickSize(msgspec.Struct, gc=False):
    """A venue's word that an instrument's tick (price grid) is now ``tick_e6``.

    Levels already in the book stay valid; the tick is what the off-tick row audit checks
    new snapshots against.
    """

    key: str
    tick_e6: int
    ts_event_ms: int | None
    ts_recv_ms: int


Event = BookSnapshot | BookDelta | Trade | TopOfBook | MarketStatus | TickSize | BookStale
