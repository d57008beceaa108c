"""The fake's wire: sim generator messages as Polymarket market-channel messages.

Ids look like the venue's (77-digit token ids from the sim universe, ``0x`` + 64-hex
condition ids, numeric Gamma ids); numbers are decimal strings; book levels are listed with
the best at the END (bids ascending, asks descending), as the live API does; both outcome
tokens' halves of one change travel in one ``price_change``, each item with the token's
best bid/ask after it (``"0"``/``"1"`` for an empty side). Shared by the fake server and
the ingest benchmark.

A token registered with its market's tick (``WireEncoder.set_tick``) carries ``tick_size`` in
its ``book`` messages, and its tick turns ten times finer (0.01 -> 0.001, at most 0.0001) while
its mid is above 0.96 or below 0.04, back when it returns: each move is announced with a
``tick_size_change``, as the venue does. Level prices stay valid (the market's own tick is a
multiple of the finer one).

Every ``book`` carries the venue's real ``hash`` (``messages.book_hash`` of the message's own
fields and the market's ``min_order_size`` and ``neg_risk``: the venue defaults, or with
``WireEncoder.varied_settings`` one of a few per market, as Gamma and the REST bodies state
them too), unless asked to leave it out; ``WireEncoder.bad_hash``, when set and true for a
book, serves a wrong one (the fake's ``bad_hash_prob`` fault).
"""

from __future__ import annotations

import itertools
from array import array
from bisect import bisect_left
from collections.abc import Callable
from hashlib import blake2b

from pmtape.core.events import BID, Change, Level
from pmtape.core.fixed import format_e6, parse_e6
from pmtape.venues.polymarket.constants import NO_ASK, NO_BID, SIDE_BUY, SIDE_SELL
from pmtape.venues.polymarket.fake.violations import inject
from pmtape.venues.polymarket.messages import (
    DEFAULT_MIN_ORDER_SIZE,
    DEFAULT_NEG_RISK,
    BookMsg,
    LastTradePriceMsg,
    MarketMessage,
    PriceChangeItem,
    PriceChangeMsg,
    TickSizeChangeMsg,
    book_hash,
)
from pmtape.venues.polymarket.messages import (
    Level as WireLevel,
)
from pmtape.venues.sim.constants import SCALE_E6
from pmtape.venues.sim.generator import GenDelta, GenMessage, GenSnapshot, GenTrade

_GAMMA_ID_BASE = 500_000
_E6_TEXT: dict[int, str] = {}
_E6_TEXT_MAX = 1 << 17
_ORDER_HASH = blake2b(digest_size=20)
FINE_BELOW_E6 = 40_000
"""A token's tick turns finer while its mid is below 0.04 or above 1 - 0.04."""
_FINEST_TICK_E6 = 100


class PmIds:
    """Polymarket-shaped ids for sim markets: condition ids and numeric Gamma ids."""

    def __init__(self) -> None:
        self._gamma: dict[str, str] = {}
        self._cond: dict[str, str] = {}

    def condition_id(self, market_id: str) -> str:
        """Return the ``0x`` + 64-hex condition id of a sim market."""
        cid = self._cond.get(market_id)
        if cid is None:
            digest = blake2b(f"condition:{market_id}".encode(), digest_size=32).hexdigest()
            cid = self._cond[market_id] = "0x" + digest
        return cid

    def gamma_id(self, market_id: str) -> str:
        """Return the numeric Gamma id of a sim market (stable for this process)."""
        gid = self._gamma.get(market_id)
        if gid is None:
            gid = self._gamma[market_id] = str(_GAMMA_ID_BASE + len(self._gamma))
        return gid


class _Top:
    """One token's book in wire form: its levels in the live order, best LAST.

    Bids are kept ascending by price and asks descending (their sort keys are the negated
    prices), each level already a wire ``Level``, so a change costs one bisect and a
    ``book`` copies two sequences instead of formatting every level again. Keys are arrays
    and levels tuples, which the garbage collector does not track: thousands of books'
    levels would otherwise make every full collection a long pause.
    """

    __slots__ = ("ask_keys", "asks", "bid_keys", "bids")

    def __init__(self, bids: list[Level], asks: list[Level]) -> None:
        self.load(bids, asks)

    def load(self, bids: list[Level], asks: list[Level]) -> None:
        """Replace the whole book (levels best first, as the generator lists them)."""
        by_px = dict(bids)
        self.bid_keys = array("q", sorted(by_px))
        self.bids = tuple(WireLevel(e6_text(px), e6_text(by_px[px])) for px in self.bid_keys)
        by_px = dict(asks)
        self.ask_keys = array("q", sorted(-px for px in by_px))
        self.asks = tuple(WireLevel(e6_text(-key), e6_text(by_px[-key])) for key in self.ask_keys)

    def set(self, side: int, px: int, sz: int) -> WireLevel:
        """Apply one absolute level change (size 0 deletes); return it as a wire level."""
        level = WireLevel(e6_text(px), e6_text(sz))
        bid = side == BID
        keys = self.bid_keys if bid else self.ask_keys
        levels = self.bids if bid else self.asks
        key = px if bid else -px
        i = bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            if sz:
                levels = (*levels[:i], level, *levels[i + 1 :])
            else:
                del keys[i]
                levels = levels[:i] + levels[i + 1 :]
        elif sz:
            keys.insert(i, key)
            levels = (*levels[:i], level, *levels[i:])
        else:
            return level
        if bid:
            self.bids = levels
        else:
            self.asks = levels
        return level

    def best(self) -> tuple[str, str]:
        bids = self.bids
        asks = self.asks
        return (bids[-1].price if bids else NO_BID, asks[-1].price if asks else NO_ASK)


class TopTracker:
    """Every token's book, following generator messages in order (for its best bid/ask)."""

    def __init__(self) -> None:
        self._tops: dict[str, _Top] = {}

    def __contains__(self, token: str) -> bool:
        return token in self._tops

    def reset(self, token: str, bids: list[Level], asks: list[Level]) -> None:
        """Start (or restart) a token from its full book."""
        top = self._tops.get(token)
        if top is None:
            self._tops[token] = _Top(bids, asks)
        else:
            top.load(bids, asks)

    def drop(self, token: str) -> None:
        """Forget a token (its market closed)."""
        self._tops.pop(token, None)

    def change(self, token: str, side: int, px: int, sz: int) -> tuple[str, str]:
        """Apply one level change and return the token's (best_bid, best_ask) wire strings."""
        top = self._tops[token]
        top.set(side, px, sz)
        return top.best()

    def levels(self, token: str) -> tuple[list[Level], list[Level]]:
        """Return the token's (bids best first, asks best first)."""
        top = self._tops[token]
        bids = [(k, parse_e6(lv.size)) for k, lv in zip(top.bid_keys, top.bids, strict=True)]
        asks = [(-k, parse_e6(lv.size)) for k, lv in zip(top.ask_keys, top.asks, strict=True)]
        return bids[::-1], asks[::-1]

    def top(self, token: str) -> _Top:
        """Return a token's book (KeyError if it has none)."""
        return self._tops[token]

    def best(self, token: str) -> tuple[str, str]:
        """Return the token's (best_bid, best_ask) as wire strings with empty-side sentinels."""
        return self._tops[token].best()

    def wire(self, token: str) -> tuple[list[WireLevel], list[WireLevel]]:
        """Return copies of the token's (bids, asks) in the live order (best last)."""
        top = self._tops[token]
        return list(top.bids), list(top.asks)


class WireEncoder:
    """Turn generator messages into Polymarket messages, keeping each token's top of book."""

    def __init__(
        self,
        ids: PmIds | None = None,
        tops: TopTracker | None = None,
        *,
        book_after_trade: bool = True,
    ) -> None:
        self.ids = ids or PmIds()
        self.book_after_trade = book_after_trade
        self.tops = tops or TopTracker()
        self._orders = itertools.count(1)
        self.last_trade: dict[str, str] = {}
        self.last_trade_side: dict[str, str] = {}
        self._base_ticks: dict[str, int] = {}
        self.ticks: dict[str, int] = {}
        """Each registered token's tick now, in e6."""
        self.bad_hash: Callable[[], bool] | None = None
        """Asked once per hashed ``book``: True serves a wrong hash (None: never)."""
        self.violation: Callable[[], str | None] | None = None
        """Asked once per ``book``: a ``violations.VIOLATIONS`` kind to serve (None: none)."""
        self.varied_settings = False
        """True: markets' ``min_order_size`` and ``neg_risk`` vary (``market_settings``)."""

    def settings(self, market: str) -> tuple[str, bool]:
        """Return a market's ``min_order_size`` and ``neg_risk`` (by its sim market id)."""
        return market_settings(market, varied=self.varied_settings)

    def set_tick(self, token: str, tick_e6: int) -> None:
        """Register a token's market tick; its tick now follows its mid (see the module doc)."""
        self._base_ticks[token] = tick_e6
        self.ticks[token] = self._tick_for(token, tick_e6)

    def forget(self, token: str) -> None:
        """Forget a token (its market closed)."""
        self.tops.drop(token)
        self._base_ticks.pop(token, None)
        self.ticks.pop(token, None)

    def _tick_for(self, token: str, base: int) -> int:
        if token not in self.tops:
            return base
        top = self.tops.top(token)
        bid = top.bid_keys[-1] if top.bid_keys else 0
        ask = -top.ask_keys[-1] if top.ask_keys else SCALE_E6
        twice_mid = bid + ask
        if twice_mid < 2 * FINE_BELOW_E6 or twice_mid > 2 * (SCALE_E6 - FINE_BELOW_E6):
            return max(base // 10, _FINEST_TICK_E6)
        return base

    def _tick_change(self, token: str, cond: str, ts_ms: int, out: list[MarketMessage]) -> None:
        base = self._base_ticks.get(token)
        if base is None:
            return
        old = self.ticks[token]
        new = self._tick_for(token, base)
        if new != old:
            self.ticks[token] = new
            out.append(
                TickSizeChangeMsg(
                    market=cond,
                    asset_id=token,
                    old_tick_size=e6_text(old),
                    new_tick_size=e6_text(new),
                    timestamp=str(ts_ms),
                )
            )

    def encode(self, msgs: list[GenMessage]) -> list[MarketMessage]:
        """Encode messages in order; the two tokens' halves of one change share a message.

        The book change a trade causes is sent as fresh ``book`` messages, as the venue does.
        """
        out: list[MarketMessage] = []
        pending: PriceChangeMsg | None = None
        traded = ""
        for msg in msgs:
            if type(msg) is GenDelta:
                cond = self.ids.condition_id(msg.market)
                if msg.market == traded:
                    for side, px, sz in msg.changes:
                        self.tops.change(msg.token, side, px, sz)
                    self._tick_change(msg.token, cond, msg.ts_ms, out)
                    out.append(self._book(msg.token, msg.market, msg.ts_ms, with_hash=True))
                    continue
                items = self._items(msg.token, msg.changes)
                n = len(out)
                self._tick_change(msg.token, cond, msg.ts_ms, out)
                if len(out) > n:
                    # The tick moved: the change goes out after its announcement, on its own.
                    pending = PriceChangeMsg(
                        market=cond, price_changes=items, timestamp=str(msg.ts_ms)
                    )
                    out.append(pending)
                    continue
                if pending is not None and pending.market == cond:
                    pending.price_changes.extend(items)
                    pending = None  # a burst's next change is a message of its own
                    continue
                pending = PriceChangeMsg(market=cond, price_changes=items, timestamp=str(msg.ts_ms))
                out.append(pending)
                continue
            pending = None
            traded = ""
            if type(msg) is GenSnapshot:
                self.tops.reset(msg.token, msg.bids, msg.asks)
                cond = self.ids.condition_id(msg.market)
                self._tick_change(msg.token, cond, msg.ts_ms, out)
                out.append(self._book(msg.token, msg.market, msg.ts_ms, with_hash=True))
            elif type(msg) is GenTrade:
                out.append(self.trade(msg))
                traded = msg.market if self.book_after_trade else ""
        return out

    def book(self, snap: GenSnapshot, *, with_hash: bool = True) -> BookMsg:
        """Return a ``book`` message for a full book (and restart that token's top)."""
        self.tops.reset(snap.token, snap.bids, snap.asks)
        return self._book(snap.token, snap.market, snap.ts_ms, with_hash=with_hash)

    def _book(self, token: str, market: str, ts_ms: int, *, with_hash: bool) -> BookMsg:
        bids, asks = self.tops.wire(token)
        kind = self.violation() if self.violation is not None else None
        if kind is not None:
            bids, asks = inject(kind, bids, asks, self.ticks.get(token, SCALE_E6 // 100))
        msg = BookMsg(
            market=self.ids.condition_id(market),
            asset_id=token,
            timestamp=str(ts_ms),
            bids=bids,
            asks=asks,
            tick_size=e6_text(tick) if (tick := self.ticks.get(token)) else None,
            last_trade_price=self.last_trade.get(token, ""),
        )
        if with_hash:
            digest = wire_book_hash(msg, *self.settings(market))
            bad = self.bad_hash
            msg.hash = corrupt_hash(digest) if bad is not None and bad() else digest
        return msg

    def trade(self, trade: GenTrade) -> LastTradePriceMsg:
        """Return a ``last_trade_price`` message for one fill."""
        price = e6_text(trade.px_e6)
        self.last_trade[trade.token] = price
        self.last_trade_side[trade.token] = SIDE_BUY if trade.side == "buy" else SIDE_SELL
        return LastTradePriceMsg(
            market=self.ids.condition_id(trade.market),
            asset_id=trade.token,
            price=price,
            size=e6_text(trade.sz_e6),
            side=SIDE_BUY if trade.side == "buy" else SIDE_SELL,
            fee_rate_bps="0",
            timestamp=str(trade.ts_ms),
            transaction_hash="0x" + blake2b(trade.trade_id.encode(), digest_size=32).hexdigest(),
        )

    def _items(self, token: str, changes: list[Change]) -> list[PriceChangeItem]:
        items = []
        top = self.tops.top(token)
        for side, px, sz in changes:
            level = top.set(side, px, sz)
            bids = top.bids
            asks = top.asks
            items.append(
                PriceChangeItem(
                    asset_id=token,
                    price=level.price,
                    size=level.size,
                    side=SIDE_BUY if side == BID else SIDE_SELL,
                    hash=self._hash(),
                    best_bid=bids[-1].price if bids else NO_BID,
                    best_ask=asks[-1].price if asks else NO_ASK,
                )
            )
        return items

    def _hash(self) -> str:
        # blake2b(counter, digest_size=20), from a copied empty state: cheaper to set up.
        h = _ORDER_HASH.copy()
        h.update(next(self._orders).to_bytes(8, "big"))
        return h.hexdigest()


_VARIED_SIZES = ("5", "15", "1", "50")


def market_settings(market: str, *, varied: bool) -> tuple[str, bool]:
    """Return a fake market's ``min_order_size`` and ``neg_risk``: the venue defaults, or
    (``varied``) one of a few, fixed per market id (about one market in eight keeps both
    defaults), so that a check done with the defaults would fail."""
    if not varied:
        return DEFAULT_MIN_ORDER_SIZE, DEFAULT_NEG_RISK
    pick = blake2b(f"settings:{market}".encode(), digest_size=1).digest()[0]
    return _VARIED_SIZES[pick % 4], bool(pick & 4)


def wire_book_hash(msg: BookMsg, min_order_size: str, neg_risk: bool) -> str:
    """Return the real ``hash`` of a ``book`` message of a market with these settings."""
    return book_hash(
        msg.market,
        msg.asset_id,
        msg.timestamp,
        msg.bids,
        msg.asks,
        min_order_size,
        msg.tick_size,
        neg_risk,
        msg.last_trade_price,
    )


def corrupt_hash(digest: str) -> str:
    """Return a wrong hash of the same shape (40 hex chars) as ``digest``."""
    return digest[1:] + ("0" if digest[0] != "0" else "1")


def wire_levels(levels: list[Level]) -> list[WireLevel]:
    """Return best-first levels in the live ordering: the best level LAST."""
    return [WireLevel(e6_text(px), e6_text(sz)) for px, sz in reversed(levels)]


def e6_text(value: int) -> str:
    """Return ``format_e6(value)``, remembered: the fake's prices and sizes repeat a lot."""
    text = _E6_TEXT.get(value)
    if text is None:
        if len(_E6_TEXT) >= _E6_TEXT_MAX:
            _E6_TEXT.clear()
        text = _E6_TEXT[value] = format_e6(value)
    return text
