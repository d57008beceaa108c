"""Limitless frames and REST bodies to canonical events keyed by market slug, never raising.

The instrument is the market's (YES) book. Levels come best first but are never trusted
to: each side is sorted here. Prices are JSON numbers kept as their raw tokens and parsed
exactly to e6 (never through a float); sizes are raw integers in 1e6 units, i.e. already
e6, unless a size has a fractional part, when it is taken to be in shares (§3.3.2, [I]).

Socket.IO frames (``42/markets,["orderbookUpdate", {...}]``) carry a complete book every
time, keyed by ``marketSlug``; the venue-global ``version`` lets a repeated or older book
for the same slug be skipped. ``marketResolved`` (sent three times) becomes one
``MarketStatus``; oracle and AMM price events are read past; Engine.IO/Socket.IO control
packets are counted.

REST order-book bodies name only their YES ``tokenId``, not the slug. The poller therefore
fetches each slug's market object once before its books (``GET /markets/{slug}``, which
names both), and the normalizer remembers token -> slug from it — state derived only from
the frames in order, so replaying a capture gives the same events. A book whose token was
never introduced is counted as ``unkeyed``.
"""

from __future__ import annotations

import msgspec

from pmtape.core.clock import iso_ms
from pmtape.core.errors import VenueProtocolError
from pmtape.core.events import BookSnapshot, BookStale, Event, Level, MarketStatus
from pmtape.core.fixed import SCALE, token_e6
from pmtape.core.snapshot import refused_reason
from pmtape.venues.base import DECODE_ERRORS, Normalizer
from pmtape.venues.limitless import sio
from pmtape.venues.limitless.constants import (
    EV_CREATED,
    EV_ORDERBOOK,
    EV_RESOLVED,
    EV_SYSTEM,
    IGNORED_EVENTS,
    STATUS_NEW,
    STATUS_RESOLVED,
)

_BAD_NUMBER = (VenueProtocolError, ArithmeticError, ValueError)
_NULL = msgspec.Raw(b"null")


class _Lvl(msgspec.Struct, gc=False):
    price: msgspec.Raw = _NULL
    size: msgspec.Raw = _NULL


class _Book(msgspec.Struct, gc=False):
    bids: list[_Lvl] | None = None
    asks: list[_Lvl] | None = None
    tokenId: str | None = None


class _Update(msgspec.Struct, gc=False):
    marketSlug: str = ""
    orderbook: _Book | None = None
    version: int | None = None
    timestamp: str | int | None = None


class _Tokens(msgspec.Struct, gc=False):
    yes: str | None = None


class _MarketObj(msgspec.Struct, gc=False):
    slug: str = ""
    tokens: _Tokens | None = None
    markets: list[_MarketObj] | None = None


class _Status(msgspec.Struct, gc=False):
    slug: str = ""
    marketSlug: str = ""
    resolutionDate: str | None = None
    createdAt: str | None = None


class _Rest(msgspec.Struct, gc=False):
    """Any REST body: a book, a market object or an ``/markets/active`` page."""

    bids: list[_Lvl] | None = None
    asks: list[_Lvl] | None = None
    tokenId: str | None = None
    slug: str | None = None
    tokens: _Tokens | None = None
    markets: list[_MarketObj] | None = None
    data: list[_MarketObj] | None = None


_DECODE_EVENT = msgspec.json.Decoder(list[msgspec.Raw]).decode
_DECODE_NAME = msgspec.json.Decoder(str).decode
_DECODE_UPDATE = msgspec.json.Decoder(_Update).decode
_DECODE_STATUS = msgspec.json.Decoder(_Status).decode
_DECODE_REST = msgspec.json.Decoder(_Rest).decode


class LimitlessNormalizer(Normalizer):
    """Translate Socket.IO frames and REST bodies into book snapshots keyed by slug."""

    def __init__(self) -> None:
        super().__init__()
        self.stats.update(control=0, keepalive=0, ignored=0, unkeyed=0, duplicate=0, markets=0)
        self._slug_of: dict[str, str] = {}  # YES token id -> slug
        self._version: dict[str, int] = {}
        self._resolved: set[str] = set()

    def normalize(self, payload: bytes, ts_recv_ms: int) -> list[Event]:
        """Turn one frame or REST body into events, counting and skipping what is bad."""
        stats = self.stats
        stats["frames"] += 1
        out: list[Event] = []
        if payload[:1] in (b"{", b"["):
            self._rest(payload, ts_recv_ms, out)
        else:
            packet = sio.parse(payload)
            if packet is None:
                stats["bad"] += 1
            elif packet.eio in ("2", "3"):
                stats["keepalive"] += 1
            elif packet.eio != "4" or packet.sio != "2":
                stats["control"] += 1
            else:
                self._event(packet.data, ts_recv_ms, out)
        stats["events"] += len(out)
        return out

    # -- Socket.IO events ----------------------------------------------------------------------

    def _event(self, data: bytes, ts_recv_ms: int, out: list[Event]) -> None:
        try:
            parts = _DECODE_EVENT(data)
            name = _DECODE_NAME(parts[0]) if parts else ""
        except DECODE_ERRORS:
            name = ""
        if not name:
            self.stats["bad"] += 1
            return
        body = parts[1] if len(parts) > 1 else _NULL
        if name == EV_ORDERBOOK:
            self._update(body, ts_recv_ms, out)
        elif name in (EV_RESOLVED, EV_CREATED):
            self._status(name, body, ts_recv_ms, out)
        elif name == EV_SYSTEM:
            self.stats["control"] += 1
        elif name in IGNORED_EVENTS:
            self.stats["ignored"] += 1
        else:
            self.stats["unknown"] += 1

    def _update(self, body: msgspec.Raw, ts_recv_ms: int, out: list[Event]) -> None:
        try:
            upd = _DECODE_UPDATE(body)
        except DECODE_ERRORS:
            self.stats["bad"] += 1
            return
        slug = upd.marketSlug
        if not slug or upd.orderbook is None:
            self.stats["bad"] += 1
            return
        if upd.version is not None:
            # Venue-global, non-decreasing per connection; repeats carry identical books.
            if upd.version <= self._version.get(slug, -1):
                self.stats["duplicate"] += 1
                return
            self._version[slug] = upd.version
        book = self._book(upd.orderbook.bids, upd.orderbook.asks)
        if book is None:
            _refuse(slug, upd.orderbook.bids, upd.orderbook.asks, ts_recv_ms, out)
            return
        if upd.orderbook.tokenId:
            self._learn(upd.orderbook.tokenId, slug)
        out.append(BookSnapshot(slug, book[0], book[1], _stamp(upd.timestamp), ts_recv_ms))

    def _status(self, name: str, body: msgspec.Raw, ts_recv_ms: int, out: list[Event]) -> None:
        try:
            st = _DECODE_STATUS(body)
        except DECODE_ERRORS:
            self.stats["bad"] += 1
            return
        slug = st.slug or st.marketSlug
        if not slug:
            self.stats["bad"] += 1
            return
        if name == EV_RESOLVED:
            if slug in self._resolved:
                self.stats["duplicate"] += 1  # the venue sends it three times
                return
            self._resolved.add(slug)
            ts = _stamp(st.resolutionDate)
            out.append(MarketStatus(slug, STATUS_RESOLVED, [slug], ts, ts_recv_ms))
        else:
            self._resolved.discard(slug)
            out.append(MarketStatus(slug, STATUS_NEW, [slug], _stamp(st.createdAt), ts_recv_ms))

    # -- REST bodies ------------------------------------------------------------------------------

    def _rest(self, payload: bytes, ts_recv_ms: int, out: list[Event]) -> None:
        try:
            body = _DECODE_REST(payload)
        except DECODE_ERRORS:
            self.stats["bad"] += 1
            return
        if body.bids is not None or body.asks is not None:
            slug = self._slug_of.get(body.tokenId or "")
            if slug is None:
                self.stats["unkeyed"] += 1
                return
            book = self._book(body.bids, body.asks)
            if book is not None:
                out.append(BookSnapshot(slug, book[0], book[1], None, ts_recv_ms))
            else:
                _refuse(slug, body.bids, body.asks, ts_recv_ms, out)
        elif body.data is not None:
            for market in body.data:
                self._market(market)
        elif body.slug:
            self._market(_MarketObj(body.slug, body.tokens, body.markets))
        else:
            self.stats["unknown"] += 1

    def _market(self, market: _MarketObj) -> None:
        self.stats["markets"] += 1
        for m in (market, *(market.markets or ())):
            if m.slug and m.tokens is not None and m.tokens.yes:
                self._learn(m.tokens.yes, m.slug)

    def _learn(self, token: str, slug: str) -> None:
        # Bounded by the markets introduced in one run (thousands): never forgotten, so a
        # polled book never turns unkeyed halfway through a run.
        self._slug_of[token] = slug

    def _book(
        self, bids: list[_Lvl] | None, asks: list[_Lvl] | None
    ) -> tuple[list[Level], list[Level]] | None:
        bid_levels = _levels(bids)
        ask_levels = _levels(asks)
        if bid_levels is None or ask_levels is None:
            self.stats["bad"] += 1
            return None
        bid_levels.sort(reverse=True)
        ask_levels.sort()
        return bid_levels, ask_levels


def _refuse(
    slug: str, bids: list[_Lvl] | None, asks: list[_Lvl] | None, ts_recv_ms: int, out: list[Event]
) -> None:
    """Mark a book stale when the venue sent levels no book can hold, naming the audits."""
    levels = []
    for lvl in (*(bids or ()), *(asks or ())):
        try:
            levels.append((token_e6(bytes(lvl.price)), token_e6(bytes(lvl.size))))
        except _BAD_NUMBER:
            continue
    reason = refused_reason(levels)
    if reason is not None:
        out.append(BookStale(slug, reason, ts_recv_ms))


def _levels(levels: list[_Lvl] | None) -> list[Level] | None:
    # A price listed twice: the last word wins; size 0 means the level is absent.
    book: dict[int, int] = {}
    try:
        for lvl in levels or ():
            px = token_e6(bytes(lvl.price))
            sz = size_e6(token_e6(bytes(lvl.size)))
            if not 0 < px < SCALE or sz < 0:
                return None
            if sz:
                book[px] = sz
            else:
                book.pop(px, None)
    except _BAD_NUMBER:
        return None
    return list(book.items())


def size_e6(shares_e6: int) -> int:
    """Return a size in e6 from its value read as shares: a whole number is raw 1e6 units."""
    return shares_e6 // SCALE if shares_e6 % SCALE == 0 else shares_e6


def _stamp(value: str | int | None) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, str) and value:
        return iso_ms(value)
    return None
