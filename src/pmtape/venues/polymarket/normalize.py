"""Polymarket frames and REST book bodies to canonical events: pure, fast, never raising.

One typed msgspec decode per frame into lean views of the wire messages (only the fields
used), prices and sizes straight from their decimal strings to e6 integers through small
bounded caches (a venue repeats the same few hundred price and size strings all day). What
cannot be understood is counted in ``stats`` and skipped: a bad level drops its whole book
snapshot, a bad ``price_change`` item only itself; an unknown ``event_type`` is counted as
``unknown``. Frames may be one object or an array (initial dumps, bursts); REST ``/book``
bodies (no ``event_type``) and ``/books`` arrays go through the same path.
"""

from __future__ import annotations

from typing import Any

import msgspec

from pmtape.core.errors import VenueProtocolError
from pmtape.core.events import (
    BookDelta,
    BookSnapshot,
    Change,
    Event,
    Level,
    MarketStatus,
    TopOfBook,
    Trade,
)
from pmtape.core.fixed import SCALE, parse_e6
from pmtape.venues.base import Normalizer
from pmtape.venues.polymarket.constants import (
    EVENT_TYPES,
    NO_ASK,
    NO_BID,
    PONG,
    STATUS_NEW,
    STATUS_RESOLVED,
)

_CACHE_MAX = 1 << 16
_SIDES = {"BUY": 0, "SELL": 1, "buy": 0, "sell": 1}
_TAKER = {"BUY": "buy", "SELL": "sell", "buy": "buy", "sell": "sell"}
# parse_e6 raises VenueProtocolError on text that is no number; Decimal can still refuse
# absurd exponents ("1e999999") while quantizing.
_BAD_NUMBER = (VenueProtocolError, ArithmeticError, ValueError)

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


class _NewMarket(msgspec.Struct, tag_field="event_type", tag="new_market", gc=False):
    id: str | int | None = None
    market: str = ""
    assets_ids: list[str] | None = None
    timestamp: Stamp = None


class _Resolved(msgspec.Struct, tag_field="event_type", tag="market_resolved", gc=False):
    id: str | int | None = None
    market: str = ""
    assets_ids: list[str] | None = None
    timestamp: Stamp = None


_Msg = _PriceChange | _Book | _LastTrade | _BestBidAsk | _TickSize | _NewMarket | _Resolved
_DECODE = msgspec.json.Decoder(list[_Msg] | _Msg).decode


class PolymarketNormalizer(Normalizer):
    """Translate market-channel frames and CLOB book bodies into events keyed by token id."""

    def __init__(self) -> None:
        super().__init__()
        self.stats.update(keepalive=0, tick_size_change=0)
        self._px: dict[str, int] = {}
        self._sz: dict[str, int] = {}

    def normalize(self, payload: bytes, ts_recv_ms: int) -> list[Event]:
        """Turn one frame or REST body into events, counting and skipping what is bad."""
        stats = self.stats
        stats["frames"] += 1
        try:
            decoded = _DECODE(payload)
        except msgspec.ValidationError:
            # An unknown type, an untagged book (REST body) or one malformed message:
            # sort them out one by one so good neighbours survive.
            msgs = self._decode_each(payload)
        except msgspec.DecodeError:
            stats["keepalive" if payload.strip() == PONG else "bad"] += 1
            return []
        else:
            if type(decoded) is _PriceChange:
                out: list[Event] = []  # the hot path: most frames are one price_change
                self._price_change(decoded, ts_recv_ms, out)
                stats["events"] += len(out)
                return out
            msgs = decoded if type(decoded) is list else [decoded]
        out = []
        for msg in msgs:
            self._dispatch(msg, ts_recv_ms, out)
        stats["events"] += len(out)
        return out

    # -- per message type --------------------------------------------------------------------

    def _dispatch(self, msg: _Msg, ts_recv_ms: int, out: list[Event]) -> None:
        kind = type(msg)
        if kind is _PriceChange:
            self._price_change(msg, ts_recv_ms, out)  # type: ignore[arg-type]
        elif kind is _Book:
            self._book(msg, ts_recv_ms, out)  # type: ignore[arg-type]
        elif kind is _LastTrade:
            self._trade(msg, ts_recv_ms, out)  # type: ignore[arg-type]
        elif kind is _BestBidAsk:
            self._top(msg, ts_recv_ms, out)  # type: ignore[arg-type]
        elif kind is _TickSize:
            # The tick only constrains new orders; levels already in the book stay valid.
            self.stats["tick_size_change"] += 1
        else:
            self._status(msg, ts_recv_ms, out)  # type: ignore[arg-type]

    def _price_change(self, msg: _PriceChange, ts_recv_ms: int, out: list[Event]) -> None:
        items = msg.price_changes
        legacy_key = ""
        if items is None:
            items = msg.changes
            legacy_key = msg.asset_id
            if items is None:
                self.stats["bad"] += 1
                return
        ts = _stamp(msg.timestamp)
        pxc = self._px
        szc = self._sz
        sides = _SIDES
        key = ""
        changes: list[Change] = []
        for it in items:
            px = pxc.get(it.price)
            if px is None:
                px = self._parse_px(it.price)
            sz = szc.get(it.size)
            if sz is None:
                sz = self._parse_sz(it.size)
            side = sides.get(it.side)
            k = it.asset_id or legacy_key
            if px is None or sz is None or side is None or not k:
                self.stats["bad"] += 1
                continue
            if k != key:
                key = k
                changes = [(side, px, sz)]
                out.append(BookDelta(k, changes, ts, ts_recv_ms))
            else:
                changes.append((side, px, sz))

    def _book(self, msg: _Book, ts_recv_ms: int, out: list[Event]) -> None:
        bids = msg.bids if msg.bids is not None else msg.buys
        asks = msg.asks if msg.asks is not None else msg.sells
        if not msg.asset_id or bids is None or asks is None:
            self.stats["bad"] += 1
            return
        bid_levels = self._levels(bids)
        ask_levels = self._levels(asks)
        if bid_levels is None or ask_levels is None:
            self.stats["bad"] += 1
            return
        # Best is at the END of each wire list; never trust either end: sort ourselves.
        bid_levels.sort(reverse=True)
        ask_levels.sort()
        ts = _stamp(msg.timestamp)
        out.append(BookSnapshot(msg.asset_id, bid_levels, ask_levels, ts, ts_recv_ms))

    def _levels(self, levels: list[_Lvl]) -> list[Level] | None:
        # A price listed twice: the last word wins; size 0 means the level is absent.
        book: dict[int, int] = {}
        pxc = self._px
        szc = self._sz
        for lvl in levels:
            px = pxc.get(lvl.price)
            if px is None:
                px = self._parse_px(lvl.price)
            sz = szc.get(lvl.size)
            if sz is None:
                sz = self._parse_sz(lvl.size)
            if px is None or sz is None:
                return None
            if sz:
                book[px] = sz
            else:
                book.pop(px, None)
        return list(book.items())

    def _trade(self, msg: _LastTrade, ts_recv_ms: int, out: list[Event]) -> None:
        px = self._parse_px(msg.price)
        sz = self._parse_sz(msg.size)
        if px is None or not sz or not msg.asset_id:
            self.stats["bad"] += 1
            return
        side = _TAKER.get(msg.side)
        ts = _stamp(msg.timestamp)
        out.append(Trade(msg.asset_id, px, sz, side, ts, ts_recv_ms, msg.transaction_hash))

    def _top(self, msg: _BestBidAsk, ts_recv_ms: int, out: list[Event]) -> None:
        bid = None if msg.best_bid == NO_BID else self._parse_px(msg.best_bid)
        ask = None if msg.best_ask == NO_ASK else self._parse_px(msg.best_ask)
        if (bid is None and msg.best_bid != NO_BID) or (ask is None and msg.best_ask != NO_ASK):
            self.stats["bad"] += 1
            return
        if not msg.asset_id:
            self.stats["bad"] += 1
            return
        ts = _stamp(msg.timestamp)
        out.append(TopOfBook(msg.asset_id, bid, None, ask, None, ts, ts_recv_ms))

    def _status(self, msg: _NewMarket | _Resolved, ts_recv_ms: int, out: list[Event]) -> None:
        keys = [k for k in msg.assets_ids or () if k]
        market = str(msg.id) if msg.id not in (None, "") else msg.market
        if not keys or not market:
            self.stats["bad"] += 1
            return
        status = STATUS_NEW if type(msg) is _NewMarket else STATUS_RESOLVED
        out.append(MarketStatus(market, status, keys, _stamp(msg.timestamp), ts_recv_ms))

    # -- numbers -------------------------------------------------------------------------------

    def _parse_px(self, text: str) -> int | None:
        cached = self._px.get(text)
        if cached is not None:
            return cached
        try:
            px = parse_e6(text)
        except _BAD_NUMBER:
            return None
        if not 0 < px < SCALE:
            return None
        _remember(self._px, text, px)
        return px

    def _parse_sz(self, text: str) -> int | None:
        cached = self._sz.get(text)
        if cached is not None:
            return cached
        try:
            sz = parse_e6(text)
        except _BAD_NUMBER:
            return None
        if sz < 0:
            return None
        _remember(self._sz, text, sz)
        return sz

    # -- the slow path ----------------------------------------------------------------------------

    def _decode_each(self, payload: bytes) -> list[_Msg]:
        try:
            raw: Any = msgspec.json.decode(payload)
        except msgspec.DecodeError:
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
        except msgspec.ValidationError:
            self.stats["bad"] += 1
            return None
        return msg


def _remember(cache: dict[str, int], text: str, value: int) -> None:
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[text] = value


def _stamp(value: Stamp) -> int | None:
    # Venue stamps are ms strings; anything else is "unknown", never a reason to drop data.
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
