"""Kalshi frames and REST bodies to canonical events keyed by market ticker, never raising.

The instrument is the ticker's YES book. Kalshi publishes bids only, for YES and for NO; a
NO bid at q is an offer to sell YES at 1 - q (§2.5.4). So, for the YES book:

* bids = the YES bids as they are: ``(p, size)`` for each ``yes`` level;
* asks = the NO bids mirrored: ``(1 - q, size)`` for each ``no`` level, sorted ascending;

sizes are the same contracts on both sides. Deltas map the same way: a ``yes`` change at p
is a bid change at p, a ``no`` change at q an ask change at 1 - q. Prices are dollar
strings, sizes fractional ``_fp`` strings (numbers accepted too); both go straight to e6
integers through ``Decimal``, never float. Legacy shapes (``orderbook`` with cents ``yes``/
``no`` or ``yes_dollars``/``no_dollars``, integer ``price``/``delta``) are still read.

Kalshi's deltas are signed increments, while a canonical ``BookDelta`` carries a level's
new absolute size. The normalizer therefore keeps each ticker's WebSocket levels (set by
``orderbook_snapshot``, moved by ``orderbook_delta``): state derived only from the frames
in order — no clock, no I/O — so replaying a capture gives the same events. A delta for a
ticker with no snapshot yet is counted as ``orphan`` and skipped. REST books replace the
instrument's book but never these WS levels, so the next delta stays true to the stream.

Sequence gaps are not the normalizer's business: the session peeks at each frame's
``sid``/``seq``, marks the books of a gapped subscription stale and asks for snapshots
(see ``ws_subs``). REST trade lists overlap from one poll to the next; rows already seen
(by ``trade_id``, a bounded memory) are counted as ``duplicate_trades`` and skipped.
"""

from __future__ import annotations

from typing import Any

import msgspec

from pmtape.core.clock import iso_ms
from pmtape.core.errors import VenueProtocolError
from pmtape.core.events import (
    ASK,
    BID,
    BookDelta,
    BookSnapshot,
    BookStale,
    Event,
    Level,
    MarketStatus,
    TopOfBook,
    Trade,
)
from pmtape.core.fixed import E6_MAX, SCALE, token_e6
from pmtape.core.snapshot import refused_reason
from pmtape.venues.base import DECODE_ERRORS, Normalizer
from pmtape.venues.kalshi.constants import (
    CONTROL_TYPES,
    LIFECYCLE_STATUS,
    MSG_DELTA,
    MSG_LIFECYCLE,
    MSG_SNAPSHOT,
    MSG_TICKER,
    MSG_TRADE,
    STATUS_RESOLVED,
    STATUS_SETTLED,
)

_BAD_NUMBER = (VenueProtocolError, ArithmeticError, ValueError, TypeError)
_SEEN_TRADES_MAX = 100_000
_TAKER = {"yes": "buy", "no": "sell", "bid": "buy", "ask": "sell"}
_NULL = msgspec.Raw(b"null")
_DATA_TYPES = frozenset({MSG_SNAPSHOT, MSG_DELTA, MSG_TRADE, MSG_TICKER, MSG_LIFECYCLE})

Num = msgspec.Raw
"""A JSON number or decimal string kept as its raw token (parsed exactly, never as float)."""
RawLadder = list[tuple[Num, Num]]
Sides = tuple[dict[int, int], dict[int, int]]
"""(yes bids, no bids) of one ticker, in their own legs' prices."""


class _SnapBody(msgspec.Struct, gc=False):
    market_ticker: str = ""
    yes_dollars_fp: RawLadder | None = None
    no_dollars_fp: RawLadder | None = None
    yes_dollars: RawLadder | None = None  # 2025: dollars beside integer counts
    no_dollars: RawLadder | None = None
    yes: RawLadder | None = None  # <= 2025: integer cents
    no: RawLadder | None = None


class _DeltaBody(msgspec.Struct, gc=False):
    market_ticker: str = ""
    price_dollars: Num = _NULL
    price: Num = _NULL  # legacy integer cents
    delta_fp: Num = _NULL
    delta: Num = _NULL  # legacy integer count
    side: str = ""
    ts_ms: int | None = None
    ts: str | int | None = None


class _TradeBody(msgspec.Struct, gc=False):
    trade_id: str | None = None
    market_ticker: str = ""
    ticker: str = ""  # REST rows name it ``ticker``
    yes_price_dollars: Num = _NULL
    no_price_dollars: Num = _NULL
    yes_price: Num = _NULL  # legacy integer cents
    count_fp: Num = _NULL
    count: Num = _NULL
    taker_outcome_side: str = ""
    taker_side: str = ""
    taker_book_side: str = ""
    ts_ms: int | None = None
    ts: str | int | None = None
    created_time: str | None = None


class _TickerBody(msgspec.Struct, gc=False):
    market_ticker: str = ""
    yes_bid_dollars: Num = _NULL
    yes_ask_dollars: Num = _NULL
    yes_bid_size_fp: Num = _NULL
    yes_ask_size_fp: Num = _NULL
    ts_ms: int | None = None
    ts: str | int | None = None


class _LifeBody(msgspec.Struct, gc=False):
    market_ticker: str = ""
    event_type: str = ""
    determination_ts: int | None = None
    settled_ts: int | None = None
    close_ts: int | None = None


class _Snapshot(msgspec.Struct, tag_field="type", tag=MSG_SNAPSHOT, gc=False):
    msg: _SnapBody | None = None


class _Delta(msgspec.Struct, tag_field="type", tag=MSG_DELTA, gc=False):
    msg: _DeltaBody | None = None


class _TradeMsg(msgspec.Struct, tag_field="type", tag=MSG_TRADE, gc=False):
    msg: _TradeBody | None = None


class _Ticker(msgspec.Struct, tag_field="type", tag=MSG_TICKER, gc=False):
    msg: _TickerBody | None = None


class _Lifecycle(msgspec.Struct, tag_field="type", tag=MSG_LIFECYCLE, gc=False):
    msg: _LifeBody | None = None


class _BookItem(msgspec.Struct, gc=False):
    ticker: str = ""
    market_ticker: str = ""
    orderbook_fp: _SnapBody | None = None
    orderbook: _SnapBody | None = None


class _RestBody(msgspec.Struct, gc=False):
    orderbooks: list[_BookItem] | None = None
    trades: list[_TradeBody] | None = None
    orderbook_fp: Any = None  # a single-market body: it does not name its ticker
    orderbook: Any = None


_Msg = _Delta | _Snapshot | _TradeMsg | _Ticker | _Lifecycle
_DECODE_WS = msgspec.json.Decoder(_Msg).decode
_DECODE_REST = msgspec.json.Decoder(_RestBody).decode


class KalshiNormalizer(Normalizer):
    """Translate WebSocket frames and REST book/trade bodies into YES-book events."""

    def __init__(self) -> None:
        super().__init__()
        self.stats.update(control=0, orphan=0, duplicate_trades=0, lifecycle_other=0)
        self._books: dict[str, Sides] = {}
        self._seen_trades: dict[str, None] = {}

    def normalize(self, payload: bytes, ts_recv_ms: int) -> list[Event]:
        """Turn one frame or REST body into events, counting and skipping what is bad."""
        stats = self.stats
        stats["frames"] += 1
        out: list[Event] = []
        try:
            msg = _DECODE_WS(payload)
        except msgspec.ValidationError:
            self._slow(payload, ts_recv_ms, out)
        except DECODE_ERRORS:
            stats["bad"] += 1
        else:
            match msg:
                case _Delta():
                    self._delta(msg.msg, ts_recv_ms, out)
                case _Snapshot():
                    self._snapshot(msg.msg, ts_recv_ms, out)
                case _TradeMsg():
                    self._trade(msg.msg, ts_recv_ms, out, rest=False)
                case _Ticker():
                    self._ticker(msg.msg, ts_recv_ms, out)
                case _:
                    self._lifecycle(msg.msg, ts_recv_ms, out)
        stats["events"] += len(out)
        return out

    # -- WebSocket messages -------------------------------------------------------------------

    def _snapshot(self, body: _SnapBody | None, ts_recv_ms: int, out: list[Event]) -> None:
        sides = _sides(body)
        if body is None or not body.market_ticker or sides is None:
            self.stats["bad"] += 1
            _refuse(body.market_ticker if body is not None else "", body, ts_recv_ms, out)
            return
        self._books[body.market_ticker] = (dict(sides[0]), dict(sides[1]))
        bids, asks = yes_book(*sides)
        out.append(BookSnapshot(body.market_ticker, bids, asks, None, ts_recv_ms))

    def _delta(self, body: _DeltaBody | None, ts_recv_ms: int, out: list[Event]) -> None:
        parsed = _delta_fields(body)
        if body is None or parsed is None:
            self.stats["bad"] += 1
            return
        px, inc = parsed
        book = self._books.get(body.market_ticker)
        if book is None:
            self.stats["orphan"] += 1
            return
        levels = book[0] if body.side == "yes" else book[1]
        size = levels.get(px, 0) + inc
        if size > E6_MAX:  # past what a book level holds: absurd, and the level stays
            self.stats["bad"] += 1
            return
        if size > 0:
            levels[px] = size
        else:
            levels.pop(px, None)
            size = 0
        change = (BID, px, size) if body.side == "yes" else (ASK, SCALE - px, size)
        ts = body.ts_ms if body.ts_ms is not None else _stamp(body.ts)
        out.append(BookDelta(body.market_ticker, [change], ts, ts_recv_ms))

    def _trade(
        self, body: _TradeBody | None, ts_recv_ms: int, out: list[Event], *, rest: bool
    ) -> None:
        if body is None:
            self.stats["bad"] += 1
            return
        key = body.market_ticker or body.ticker
        px = _trade_price(body)
        sz = _positive(body.count_fp, body.count)
        if not key or px is None or sz is None:
            self.stats["bad"] += 1
            return
        if rest and body.trade_id:
            if body.trade_id in self._seen_trades:
                self.stats["duplicate_trades"] += 1
                return
            self._remember_trade(body.trade_id)
        side = _TAKER.get(body.taker_outcome_side or body.taker_side or body.taker_book_side)
        ts = body.ts_ms if body.ts_ms is not None else _stamp(body.ts or body.created_time)
        out.append(Trade(key, px, sz, side, ts, ts_recv_ms, body.trade_id))

    def _ticker(self, body: _TickerBody | None, ts_recv_ms: int, out: list[Event]) -> None:
        if body is None or not body.market_ticker:
            self.stats["bad"] += 1
            return
        try:
            bid = num_e6(body.yes_bid_dollars)
            ask = num_e6(body.yes_ask_dollars)
            bid_sz = num_e6(body.yes_bid_size_fp)
            ask_sz = num_e6(body.yes_ask_size_fp)
        except _BAD_NUMBER:
            self.stats["bad"] += 1
            return
        if (bid_sz is not None and bid_sz < 0) or (ask_sz is not None and ask_sz < 0):
            self.stats["bad"] += 1
            return
        bid = bid if bid is not None and 0 < bid < SCALE else None  # 0: no bid
        ask = ask if ask is not None and 0 < ask < SCALE else None  # 1: no offer
        ts = body.ts_ms if body.ts_ms is not None else _stamp(body.ts)
        out.append(TopOfBook(body.market_ticker, bid, bid_sz, ask, ask_sz, ts, ts_recv_ms))

    def _lifecycle(self, body: _LifeBody | None, ts_recv_ms: int, out: list[Event]) -> None:
        if body is None or not body.market_ticker:
            self.stats["bad"] += 1
            return
        status = LIFECYCLE_STATUS.get(body.event_type)
        if status is None:
            self.stats["lifecycle_other"] += 1
            return
        if status in (STATUS_RESOLVED, STATUS_SETTLED):
            self._books.pop(body.market_ticker, None)  # no more deltas will come
        secs = body.determination_ts or body.settled_ts
        ts = secs * 1000 if secs else None
        close = body.close_ts * 1000 if body.close_ts else None
        ticker = body.market_ticker
        out.append(MarketStatus(ticker, status, [ticker], ts, ts_recv_ms, close_ts_ms=close))

    # -- the slow path: control replies, REST bodies, unknown or malformed messages ------------

    def _slow(self, payload: bytes, ts_recv_ms: int, out: list[Event]) -> None:
        try:
            raw: Any = msgspec.json.decode(payload)
        except DECODE_ERRORS:
            self.stats["bad"] += 1
            return
        if not isinstance(raw, dict):
            self.stats["bad"] += 1
            return
        kind = raw.get("type")
        if kind is not None:
            if not isinstance(kind, str):
                self.stats["bad"] += 1  # a list or object is not even hashable
            elif kind in CONTROL_TYPES:
                self.stats["control"] += 1
            else:
                self.stats["bad" if kind in _DATA_TYPES else "unknown"] += 1
            return
        try:
            body = _DECODE_REST(payload)  # typed again: numbers stay raw tokens
        except DECODE_ERRORS:
            self.stats["bad"] += 1
            return
        if body.orderbooks is not None:
            for item in body.orderbooks:
                self._rest_book(item, ts_recv_ms, out)
        elif body.trades is not None:
            for row in body.trades:
                self._trade(row, ts_recv_ms, out, rest=True)
        else:
            # A single-market book names no ticker; anything else is no body we know.
            self.stats["bad" if body.orderbook_fp or body.orderbook else "unknown"] += 1

    def _rest_book(self, item: _BookItem, ts_recv_ms: int, out: list[Event]) -> None:
        key = item.ticker or item.market_ticker
        body = item.orderbook_fp or item.orderbook
        sides = _sides(body)
        if not key or sides is None:
            self.stats["bad"] += 1
            _refuse(key, body, ts_recv_ms, out)
            return
        bids, asks = yes_book(*sides)
        out.append(BookSnapshot(key, bids, asks, None, ts_recv_ms))

    def _remember_trade(self, trade_id: str) -> None:
        seen = self._seen_trades
        if len(seen) >= _SEEN_TRADES_MAX:
            for old in list(seen)[: _SEEN_TRADES_MAX // 2]:
                del seen[old]
        seen[trade_id] = None


def yes_book(yes: dict[int, int], no: dict[int, int]) -> tuple[list[Level], list[Level]]:
    """Return the YES book (bids best first, asks best first) of bids-only YES/NO ladders."""
    bids = sorted(yes.items(), reverse=True)
    asks = sorted((SCALE - q, size) for q, size in no.items())
    return bids, asks


def _refuse(key: str, body: _SnapBody | None, ts_recv_ms: int, out: list[Event]) -> None:
    """Mark a book stale when the venue sent levels no book can hold, naming the audits.

    A NO bid outside (0, 1) is a YES ask outside too. The book keeps its levels until a
    good snapshot.
    """
    if not key or body is None:
        return
    levels = []
    for ladder in (body.yes_dollars_fp, body.yes_dollars, body.no_dollars_fp, body.no_dollars):
        for level in ladder or ():
            try:
                px = num_e6(level[0])
                size = num_e6(level[1])
            except (*_BAD_NUMBER, IndexError):
                continue
            if px is not None and size is not None:
                levels.append((px, size))
    reason = refused_reason(levels)
    if reason is not None:
        out.append(BookStale(key, reason, ts_recv_ms))


def _sides(body: _SnapBody | None) -> Sides | None:
    # Current ``*_dollars_fp`` first, then the 2025 dollars form, then integer cents.
    if body is None:
        return None
    out = []
    for fp, dollars, cents in (
        (body.yes_dollars_fp, body.yes_dollars, body.yes),
        (body.no_dollars_fp, body.no_dollars, body.no),
    ):
        ladder = fp if fp is not None else dollars
        levels = _ladder(ladder, cents=False) if ladder is not None else _ladder(cents, cents=True)
        if levels is None:
            return None
        out.append(levels)
    return out[0], out[1]


def _ladder(levels: RawLadder | None, *, cents: bool) -> dict[int, int] | None:
    book: dict[int, int] = {}
    try:
        for price, count in levels or ():
            px = num_e6(price)
            size = num_e6(count)
            if px is None or size is None:
                return None
            px = px // 100 if cents else px
            if not 0 < px < SCALE or size < 0:
                return None
            if size:
                book[px] = size
            else:
                book.pop(px, None)
    except _BAD_NUMBER:
        return None
    return book


def _delta_fields(body: _DeltaBody | None) -> tuple[int, int] | None:
    if body is None or not body.market_ticker or body.side not in ("yes", "no"):
        return None
    try:
        px = num_e6(body.price_dollars)
        if px is None:
            cents = num_e6(body.price)  # legacy integer cents
            px = None if cents is None else cents // 100
        inc = num_e6(body.delta_fp)
        if inc is None:
            inc = num_e6(body.delta)
    except _BAD_NUMBER:
        return None
    if px is None or inc is None or not 0 < px < SCALE:
        return None
    return px, inc


def _trade_price(body: _TradeBody) -> int | None:
    try:
        px = num_e6(body.yes_price_dollars)
        if px is None:
            no = num_e6(body.no_price_dollars)
            px = SCALE - no if no is not None else None
        if px is None:
            cents = num_e6(body.yes_price)
            px = None if cents is None else cents // 100
    except _BAD_NUMBER:
        return None
    return px if px is not None and 0 < px < SCALE else None


def _positive(*values: Num) -> int | None:
    try:
        sz = next((v for v in map(num_e6, values) if v is not None), None)
    except _BAD_NUMBER:
        return None
    return sz if sz is not None and sz > 0 else None


def num_e6(raw: Num) -> int | None:
    """Return a raw JSON number or decimal-string token as e6; None when null or absent."""
    token = bytes(raw)
    return None if token == b"null" else token_e6(token)


def _stamp(value: str | int | None) -> int | None:
    # WS ``ts`` is int seconds on trade/ticker and RFC3339 on orderbook_delta; REST RFC3339.
    if type(value) is int:
        return value * 1000
    if isinstance(value, str) and value:
        return iso_ms(value)
    return None
