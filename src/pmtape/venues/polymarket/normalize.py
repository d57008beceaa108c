"""Polymarket frames and REST book bodies to canonical events: pure, fast, never raising.

Plain frames (most of the market channel) are read straight from their bytes by the compiled
scanner (``scan.pyx``); every other frame takes one typed msgspec decode into lean views of
the wire messages (only the fields used), prices and sizes straight from their decimal
strings to e6 integers (a compiled one-pass parser; ``parse_e6`` for anything unusual). The
``price_change`` loop is compiled by Cython (``normalize.pxd``) and sets the levels of the
books it is given directly. What cannot be understood is counted in ``stats`` and skipped: a
bad level drops its whole book snapshot, a bad ``price_change`` item only itself; an unknown
``event_type`` is counted as ``unknown``. Frames may be one object or an array (initial
dumps, bursts); REST ``/book`` bodies (no ``event_type``) and ``/books`` arrays go through
the same path.

A book that carries a ``hash`` is checked against it (``messages.book_hash``; PROTOCOLS
§1.4.1, §1.6.4): counted ``hash_ok`` or ``hash_mismatch``, and a mismatching book is still
applied but marked stale (``"hash mismatch"``) until a good one arrives. A market-channel
``book`` lacks the market's ``min_order_size`` and ``neg_risk``: they are learnt from
discovery (``learn``, when books start being kept), REST bodies and ``set_market_info``;
checks that had to assume the venue defaults are counted ``hash_assumed_defaults``. The
scanner checks hashed books itself and takes those that match; a mismatch is left to the
general path, which counts it and marks the book.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from pmtape.core.book import Book
from pmtape.core.errors import VenueProtocolError
from pmtape.core.events import (
    BookDelta,
    BookSnapshot,
    BookStale,
    Change,
    Event,
    Level,
    MarketStatus,
    TickSize,
    TopOfBook,
    Trade,
)
from pmtape.core.fixed import parse_e6, parse_e6_plain
from pmtape.core.instrument import Instrument
from pmtape.core.snapshot import refused_reason
from pmtape.venues.base import DECODE_ERRORS, Normalizer
from pmtape.venues.polymarket.constants import (
    EVENT_TYPES,
    NO_ASK,
    NO_BID,
    PONG,
    STATUS_NEW,
    STATUS_RESOLVED,
)
from pmtape.venues.polymarket.messages import (
    DEFAULT_MIN_ORDER_SIZE,
    DEFAULT_NEG_RISK,
    RAW_MIN_ORDER_SIZE,
    RAW_NEG_RISK,
    book_hash,
)

_TAKER = {"BUY": "buy", "SELL": "sell", "buy": "buy", "sell": "sell"}
# parse_e6 raises VenueProtocolError on text that is no number; Decimal can still refuse
# absurd exponents ("1e999999") while quantizing.
_BAD_NUMBER = (VenueProtocolError, ArithmeticError, ValueError)
HASH_MISMATCH = "hash mismatch"
"""The stale reason of a book whose snapshot failed its ``hash`` check."""

Stamp = str | int | None


class _Lvl(msgspec.Struct, gc=False):
    price: str = ""
    size: str = ""


class _Book(msgspec.Struct, tag_field="event_type", tag="book", gc=False):
    asset_id: str = ""
    timestamp: Stamp = None
    bids: list[_Lvl] | None = None
    asks: list[_Lvl] | None = None
    buys: list[_Lvl] | None = None  # the <= 2024 names of bids/asks
    sells: list[_Lvl] | None = None
    # For the hash check only, hashed exactly as served (Any: never a reason to drop a book).
    hash: Any = None
    market: Any = None
    tick_size: Any = None
    last_trade_price: Any = None
    min_order_size: Any = msgspec.UNSET  # REST bodies only
    neg_risk: Any = msgspec.UNSET


class _Item(msgspec.Struct, gc=False):
    asset_id: str = ""
    price: str = ""
    size: str = ""
    side: str = ""


class _PriceChange(msgspec.Struct, tag_field="event_type", tag="price_change", gc=False):
    price_changes: list[_Item] | None = None
    timestamp: Stamp = None
    asset_id: str = ""  # legacy (before 2025-09-15): one asset, top-level ``changes``
    changes: list[_Item] | None = None


class _TickSize(msgspec.Struct, tag_field="event_type", tag="tick_size_change", gc=False):
    asset_id: str = ""
    new_tick_size: str = ""
    timestamp: Stamp = None


class _LastTrade(msgspec.Struct, tag_field="event_type", tag="last_trade_price", gc=False):
    asset_id: str = ""
    price: str = ""
    size: str = ""
    side: str = ""
    timestamp: Stamp = None
    transaction_hash: str | None = None


class _BestBidAsk(msgspec.Struct, tag_field="event_type", tag="best_bid_ask", gc=False):
    asset_id: str = ""
    best_bid: str = ""
    best_ask: str = ""
    timestamp: Stamp = None


class _EventRef(msgspec.Struct, gc=False):
    slug: str | None = None


class _NewMarket(msgspec.Struct, tag_field="event_type", tag="new_market", gc=False):
    id: str | int | None = None
    market: str = ""
    assets_ids: list[str] | None = None
    timestamp: Stamp = None
    question: str | None = None
    slug: str | None = None
    outcomes: list[str] | None = None
    tags: list[str] | None = None
    event_message: _EventRef | None = None


class _Resolved(msgspec.Struct, tag_field="event_type", tag="market_resolved", gc=False):
    id: str | int | None = None
    market: str = ""
    assets_ids: list[str] | None = None
    timestamp: Stamp = None


# Plain frames never get here when the scanner (scan.pyx) is built: what does is unusual,
# and one decode into the lenient views sorts it. A frame they cannot hold whole (an
# unknown type, an untagged REST book, a malformed message) is decoded again message by
# message, where a bad message or item is counted and skipped alone.
_Msg = _PriceChange | _Book | _LastTrade | _BestBidAsk | _TickSize | _NewMarket | _Resolved
_DECODE = msgspec.json.Decoder(list[_Msg] | _Msg).decode
_encode = msgspec.json.Encoder().encode
_NO_BOOKS: dict[str, Book] = {}

_Known = dict[str, tuple[bytes, bytes] | None]
_Learn = Callable[[str, Any, Any], None]
_Scan = Callable[[bytes, int, dict[str, Book], list[Event], dict[str, int], _Known, _Learn], int]
_SCAN: _Scan | None
try:  # the compiled scanner of plain frames (scan.pyx); without it, decode them all
    from pmtape.venues.polymarket.scan import price_change as _SCAN
except ImportError:  # pragma: no cover - a source tree nobody built
    _SCAN = None


class PolymarketNormalizer(Normalizer):
    """Translate market-channel frames and CLOB book bodies into events keyed by token id."""

    def __init__(self, *, scan: bool = True) -> None:
        super().__init__()
        self.stats.update(
            keepalive=0, tick_size_change=0, hash_ok=0, hash_mismatch=0, hash_assumed_defaults=0
        )
        # scan=False: every frame takes the general path (the tests compare the two).
        self._scan = _SCAN if scan else None
        self._market_info: dict[str, tuple[Any, Any]] = {}  # token -> (min_order_size, neg_risk)
        # The same as JSON texts, for the scanner's hash check (None: they cannot be written).
        self._hash_info: _Known = {}
        self._learn: _Learn = self.set_market_info  # bound once, not per frame

    def set_market_info(self, asset_id: str, min_order_size: Any, neg_risk: Any) -> None:
        """State a token's market ``min_order_size`` and ``neg_risk`` (for its books' hash)."""
        self._market_info[asset_id] = (min_order_size, neg_risk)
        try:
            self._hash_info[asset_id] = (_encode(min_order_size), _encode(neg_risk))
        except (TypeError, ValueError):  # e.g. a lone surrogate: the general path decides
            self._hash_info[asset_id] = None

    def learn(self, instruments: Iterable[Instrument]) -> None:
        """Take each token's market ``min_order_size`` and ``neg_risk`` from discovery.

        Discovery keeps them in ``Instrument.raw`` (``discovery.book_settings``); a token
        without both keeps what it had (the defaults, counted when a check assumes them).
        """
        for inst in instruments:
            raw = inst.raw
            if raw is None:
                continue
            mos = raw.get(RAW_MIN_ORDER_SIZE)
            neg = raw.get(RAW_NEG_RISK)
            if type(mos) is str and type(neg) is bool:
                self.set_market_info(inst.poll_key, mos, neg)

    def normalize(self, payload: bytes, ts_recv_ms: int) -> list[Event]:
        """Turn one frame or REST body into events, counting and skipping what is bad."""
        return self.ingest(payload, ts_recv_ms, _NO_BOOKS)

    def ingest(self, payload: bytes, ts_recv_ms: int, books: dict[str, Book]) -> list[Event]:
        """Apply ``price_change`` levels and full books to ``books`` directly; return the rest.

        They are applied here only while no other event of the frame is pending, so the
        books see every event in frame order, exactly as if ``normalize``'s events were
        applied one by one (one ``touch`` per run of one token's items, as one
        ``BookDelta``; ``Book.apply_snapshot`` for a book); changes and books of tokens not
        in ``books`` come back as ``BookDelta`` and ``BookSnapshot``.
        """
        stats = self.stats
        stats["frames"] += 1
        scan = self._scan
        if scan is not None:
            out: list[Event] = []
            touched = scan(payload, ts_recv_ms, books, out, stats, self._hash_info, self._learn)
            if touched >= 0:  # a plain frame, read from its bytes
                stats["events"] += touched + len(out)
                return out
        try:
            decoded = _DECODE(payload)
        except msgspec.ValidationError:
            # An unknown type, an untagged book (REST body) or one malformed message:
            # sort them out one by one so good neighbours survive.
            msgs = self._decode_each(payload)
        except DECODE_ERRORS:
            stats["keepalive" if payload.strip() == PONG else "bad"] += 1
            return []
        else:
            msgs = decoded if isinstance(decoded, list) else [decoded]
        out = []
        applied = 0
        for msg in msgs:
            match msg:
                case _PriceChange():
                    # Straight into the books only while nothing else of the frame is pending.
                    target = books if not out else _NO_BOOKS
                    applied += _price_change(msg, ts_recv_ms, target, stats, out)
                case _Book():
                    target = books if not out else _NO_BOOKS
                    applied += self._book(msg, ts_recv_ms, target, out)
                case _:
                    self._dispatch(msg, ts_recv_ms, out)
        stats["events"] += applied + len(out)
        return out

    # -- per message type --------------------------------------------------------------------

    def _dispatch(self, msg: _Msg, ts_recv_ms: int, out: list[Event]) -> None:
        match msg:
            case _LastTrade():
                self._trade(msg, ts_recv_ms, out)
            case _BestBidAsk():
                self._top(msg, ts_recv_ms, out)
            case _TickSize():
                # The tick only constrains new orders; levels already in the book stay valid.
                # The book's later rows are audited against the new tick.
                tick = _price(msg.new_tick_size)
                if tick < 0 or not msg.asset_id:
                    self.stats["bad"] += 1
                    return
                self.stats["tick_size_change"] += 1
                out.append(TickSize(msg.asset_id, tick, _stamp(msg.timestamp), ts_recv_ms))
            case _NewMarket() | _Resolved():
                self._status(msg, ts_recv_ms, out)
            case _:
                self.stats["bad"] += 1

    def _book(self, msg: _Book, ts_recv_ms: int, books: dict[str, Book], out: list[Event]) -> int:
        """Replace the token's book if it is in ``books`` (return 1), else emit it (0)."""
        bids = msg.bids if msg.bids is not None else msg.buys
        asks = msg.asks if msg.asks is not None else msg.sells
        if not msg.asset_id or bids is None or asks is None:
            self.stats["bad"] += 1
            return 0
        bid_levels = _levels(bids)
        ask_levels = _levels(asks)
        if bid_levels is None or ask_levels is None:
            # Levels no book can hold: the book keeps its levels, stale saying why.
            self.stats["bad"] += 1
            reason = _rejected(bids, asks)
            if reason is not None:
                out.append(BookStale(msg.asset_id, reason, ts_recv_ms))
            return 0
        # Best is at the END of each wire list; never trust either end: sort ourselves.
        bid_levels.sort(reverse=True)
        ask_levels.sort()
        ts = _stamp(msg.timestamp)
        stale = None
        if type(msg.hash) is str:
            stale = self._check_hash(msg, bids, asks)
        book = books.get(msg.asset_id)
        if book is not None:
            book.apply_snapshot(bid_levels, ask_levels, ts_recv_ms, ts)
            if stale is not None:
                book.mark_stale(stale)
            return 1
        out.append(BookSnapshot(msg.asset_id, bid_levels, ask_levels, ts, ts_recv_ms, stale))
        return 0

    def _check_hash(self, msg: _Book, bids: list[_Lvl], asks: list[_Lvl]) -> str | None:
        """Check a book's ``hash``; return the stale reason if it does not match."""
        stats = self.stats
        mos = msg.min_order_size
        neg = msg.neg_risk
        if mos is msgspec.UNSET or neg is msgspec.UNSET:
            known = self._market_info.get(msg.asset_id)
            if known is None:
                stats["hash_assumed_defaults"] += 1
                known = (DEFAULT_MIN_ORDER_SIZE, DEFAULT_NEG_RISK)
            if mos is msgspec.UNSET:
                mos = known[0]
            if neg is msgspec.UNSET:
                neg = known[1]
        else:  # a REST body states its market's: remember them for the channel's books
            self.set_market_info(msg.asset_id, mos, neg)
        try:
            digest = book_hash(
                msg.market,
                msg.asset_id,
                msg.timestamp,
                bids,
                asks,
                mos,
                msg.tick_size,
                neg,
                msg.last_trade_price,
            )
        except (TypeError, ValueError):  # e.g. a lone surrogate cannot be UTF-8
            digest = ""
        if digest == msg.hash:
            stats["hash_ok"] += 1
            return None
        stats["hash_mismatch"] += 1
        return HASH_MISMATCH

    def _trade(self, msg: _LastTrade, ts_recv_ms: int, out: list[Event]) -> None:
        px = _price(msg.price)
        sz = _size(msg.size)
        if px < 0 or sz <= 0 or not msg.asset_id:
            self.stats["bad"] += 1
            return
        side = _TAKER.get(msg.side)
        ts = _stamp(msg.timestamp)
        out.append(Trade(msg.asset_id, px, sz, side, ts, ts_recv_ms, msg.transaction_hash))

    def _top(self, msg: _BestBidAsk, ts_recv_ms: int, out: list[Event]) -> None:
        bid = None if msg.best_bid == NO_BID else _price(msg.best_bid)
        ask = None if msg.best_ask == NO_ASK else _price(msg.best_ask)
        if (bid is not None and bid < 0) or (ask is not None and ask < 0):
            self.stats["bad"] += 1
            return
        if not msg.asset_id:
            self.stats["bad"] += 1
            return
        ts = _stamp(msg.timestamp)
        out.append(TopOfBook(msg.asset_id, bid, None, ask, None, ts, ts_recv_ms))

    def _status(self, msg: _NewMarket | _Resolved, ts_recv_ms: int, out: list[Event]) -> None:
        keys = [k for k in msg.assets_ids or () if k]
        market = msg.market if msg.id is None or msg.id == "" else str(msg.id)
        if not keys or not market:
            self.stats["bad"] += 1
            return
        ts = _stamp(msg.timestamp)
        if type(msg) is not _NewMarket:
            out.append(MarketStatus(market, STATUS_RESOLVED, keys, ts, ts_recv_ms))
            return
        # new_market describes the market whole: enough for the collector to add it at once.
        outcomes = msg.outcomes if msg.outcomes and len(msg.outcomes) == len(keys) else None
        event = msg.event_message.slug if msg.event_message is not None else None
        out.append(
            MarketStatus(
                market,
                STATUS_NEW,
                keys,
                ts,
                ts_recv_ms,
                outcomes=outcomes,
                title=msg.question,
                slug=msg.slug,
                tags=msg.tags,
                event_slug=event,
            )
        )

    # -- numbers -------------------------------------------------------------------------------

    # -- the slow path ----------------------------------------------------------------------------

    def _decode_each(self, payload: bytes) -> list[_Msg]:
        try:
            raw: Any = msgspec.json.decode(payload)
        except DECODE_ERRORS:
            self.stats["bad"] += 1
            return []
        msgs: list[_Msg] = []
        for item in raw if isinstance(raw, list) else [raw]:
            msg = self._convert(item)
            if msg is not None:
                msgs.append(msg)
        return msgs

    def _convert(self, item: Any) -> _Msg | None:
        if not isinstance(item, dict):
            self.stats["bad"] += 1
            return None
        kind = item.get("event_type")
        if kind is None and any(k in item for k in ("bids", "asks", "buys", "sells")):
            # A REST /book body, or one of the initial snapshots reported without a type.
            item = {**item, "event_type": "book"}
        elif not isinstance(kind, str) or kind not in EVENT_TYPES:
            self.stats["unknown" if isinstance(kind, str) else "bad"] += 1
            return None
        try:
            msg: _Msg = msgspec.convert(item, _Msg)
        except DECODE_ERRORS:  # a message nested near the recursion limit, too
            self.stats["bad"] += 1
            return None
        return msg


def _price_change(
    msg: _PriceChange,
    ts_recv_ms: int,
    books: dict[str, Book],
    stats: dict[str, int],
    out: list[Event],
) -> int:
    """Apply one ``price_change`` (the receive path's hot spot); return the books touched.

    Items of a token found in ``books`` set its levels directly, and each run of one token's
    items ends in one ``touch``; items of other tokens are emitted as ``BookDelta`` events.
    A bad item is counted and skipped alone.
    """
    items = msg.price_changes
    legacy_key = ""
    if items is None:
        items = msg.changes
        legacy_key = msg.asset_id
        if items is None:
            stats["bad"] += 1
            return 0
    ts = _stamp(msg.timestamp)
    key = ""
    book: Book | None = None
    changes: list[Change] = []
    touched = 0
    for it in items:
        px = _price(it.price)
        sz = _size(it.size)
        side = _side(it.side)
        k = it.asset_id or legacy_key
        if px < 0 or sz < 0 or side < 0 or not k:
            stats["bad"] += 1
            continue
        if k != key:
            if book is not None:
                book.touch(ts_recv_ms, ts)
            key = k
            book = books.get(k)
            if book is None:
                changes = []
                out.append(BookDelta(k, changes, ts, ts_recv_ms))
            else:
                touched += 1
        if book is not None:
            book.apply_level(side, px, sz)
        else:
            changes.append((side, px, sz))
    if book is not None:
        book.touch(ts_recv_ms, ts)
    return touched


def _levels(levels: list[_Lvl]) -> list[Level] | None:
    """Return a book side's (px, sz) levels, or None if any is bad.

    A price listed twice: the last word wins; size 0 means the level is absent.
    """
    book: dict[int, int] = {}
    for lvl in levels:
        px = _price(lvl.price)
        sz = _size(lvl.size)
        if px < 0 or sz < 0:
            return None
        if sz:
            book[px] = sz
        else:
            book.pop(px, None)
    return list(book.items())


def _rejected(bids: list[_Lvl], asks: list[_Lvl]) -> str | None:
    # _price and _size answer -1 outside their ranges: px_range and size, as the audits say.
    return refused_reason((_price(lvl.price), _size(lvl.size)) for lvl in (*bids, *asks))


def _price(text: str) -> int:
    """Return a price in e6, or -1 unless it is a number strictly inside (0, 1)."""
    px = parse_e6_plain(text)
    if px < 0:
        px = _slow_e6(text)
    return px if 0 < px < 1_000_000 else -1  # SCALE, as a C literal when compiled


def _size(text: str) -> int:
    """Return a size in e6, or -1 unless it is a number >= 0."""
    sz = parse_e6_plain(text)
    return sz if sz >= 0 else _slow_e6(text)


def _slow_e6(text: str) -> int:
    # Signs, exponents and the like: parse_e6 decides; anything negative or no number (or
    # past the 64-bit e6 range) is -1.
    try:
        value = parse_e6(text)
    except _BAD_NUMBER:
        return -1
    return value if value >= 0 else -1


def _side(text: str) -> int:
    # Compared, not looked up: hashing a fresh string costs more than two comparisons.
    if text == "BUY" or text == "buy":
        return 0
    if text == "SELL" or text == "sell":
        return 1
    return -1


def _stamp(value: Stamp) -> int | None:
    # Venue stamps are ms strings; anything else is "unknown", never a reason to drop data.
    if type(value) is int:
        return value
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
