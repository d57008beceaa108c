"""The fake's wire: sim generator messages as Polymarket market-channel messages.

Ids look like the venue's (77-digit token ids from the sim universe, ``0x`` + 64-hex
condition ids, numeric Gamma ids); numbers are decimal strings; book levels are listed with
the best at the END (bids ascending, asks descending), as the live API does; both outcome
tokens' halves of one change travel in one ``price_change``, each item with the token's
best bid/ask after it (``"0"``/``"1"`` for an empty side). Shared by the fake server and
the ingest benchmark.
"""

from __future__ import annotations

import itertools
from hashlib import blake2b

from pmtape.core.events import BID, Change, Level
from pmtape.core.fixed import SCALE, format_e6
from pmtape.venues.polymarket.constants import NO_ASK, NO_BID, SIDE_BUY, SIDE_SELL
from pmtape.venues.polymarket.messages import (
    BookMsg,
    LastTradePriceMsg,
    MarketMessage,
    PriceChangeItem,
    PriceChangeMsg,
)
from pmtape.venues.polymarket.messages import (
    Level as WireLevel,
)
from pmtape.venues.sim.generator import GenDelta, GenMessage, GenSnapshot, GenTrade

_GAMMA_ID_BASE = 500_000


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
    __slots__ = ("ask", "asks", "bid", "bids")

    def __init__(self, bids: list[Level], asks: list[Level]) -> None:
        self.bids = dict(bids)
        self.asks = dict(asks)
        self.bid = max(self.bids, default=0)
        self.ask = min(self.asks, default=SCALE)


class TopTracker:
    """Best bid/ask of every token, following generator messages in order."""

    def __init__(self) -> None:
        self._tops: dict[str, _Top] = {}

    def __contains__(self, token: str) -> bool:
        return token in self._tops

    def reset(self, token: str, bids: list[Level], asks: list[Level]) -> None:
        """Start (or restart) a token from its full book."""
        self._tops[token] = _Top(bids, asks)

    def drop(self, token: str) -> None:
        """Forget a token (its market closed)."""
        self._tops.pop(token, None)

    def change(self, token: str, side: int, px: int, sz: int) -> tuple[str, str]:
        """Apply one level change and return the token's (best_bid, best_ask) wire strings."""
        top = self._tops[token]
        if side == BID:
            if sz:
                top.bids[px] = sz
                top.bid = max(top.bid, px)
            else:
                top.bids.pop(px, None)
                if px == top.bid:
                    top.bid = max(top.bids, default=0)
        else:
            if sz:
                top.asks[px] = sz
                top.ask = min(top.ask, px)
            else:
                top.asks.pop(px, None)
                if px == top.ask:
                    top.ask = min(top.asks, default=SCALE)
        return self.best(token)

    def levels(self, token: str) -> tuple[list[Level], list[Level]]:
        """Return the token's (bids best first, asks best first)."""
        top = self._tops[token]
        return sorted(top.bids.items(), reverse=True), sorted(top.asks.items())

    def best(self, token: str) -> tuple[str, str]:
        """Return the token's (best_bid, best_ask) as wire strings with empty-side sentinels."""
        top = self._tops[token]
        bid = format_e6(top.bid) if top.bid else NO_BID
        ask = format_e6(top.ask) if top.ask < SCALE else NO_ASK
        return bid, ask


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

    def encode(self, msgs: list[GenMessage]) -> list[MarketMessage]:
        """Encode messages in order; the two tokens' halves of one change share a message.

        The book change a trade causes is sent as fresh ``book`` messages, as the venue does.
        """
        out: list[MarketMessage] = []
        pending: PriceChangeMsg | None = None
        traded = ""
        for msg in msgs:
            if type(msg) is GenDelta:
                if msg.market == traded:
                    for side, px, sz in msg.changes:
                        self.tops.change(msg.token, side, px, sz)
                    bids, asks = self.tops.levels(msg.token)
                    out.append(self.book(GenSnapshot(msg.token, msg.market, bids, asks, msg.ts_ms)))
                    continue
                items = self._items(msg.token, msg.changes)
                cond = self.ids.condition_id(msg.market)
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
                out.append(self.book(msg))
            elif type(msg) is GenTrade:
                out.append(self.trade(msg))
                traded = msg.market if self.book_after_trade else ""
        return out

    def book(self, snap: GenSnapshot, *, with_hash: bool = True) -> BookMsg:
        """Return a ``book`` message for a full book (and restart that token's top)."""
        self.tops.reset(snap.token, snap.bids, snap.asks)
        return BookMsg(
            market=self.ids.condition_id(snap.market),
            asset_id=snap.token,
            timestamp=str(snap.ts_ms),
            hash=self._hash() if with_hash else None,
            bids=wire_levels(snap.bids),
            asks=wire_levels(snap.asks),
            tick_size=None,
            last_trade_price=self.last_trade.get(snap.token, ""),
        )

    def trade(self, trade: GenTrade) -> LastTradePriceMsg:
        """Return a ``last_trade_price`` message for one fill."""
        price = format_e6(trade.px_e6)
        self.last_trade[trade.token] = price
        return LastTradePriceMsg(
            market=self.ids.condition_id(trade.market),
            asset_id=trade.token,
            price=price,
            size=format_e6(trade.sz_e6),
            side=SIDE_BUY if trade.side == "buy" else SIDE_SELL,
            fee_rate_bps="0",
            timestamp=str(trade.ts_ms),
            transaction_hash="0x" + blake2b(trade.trade_id.encode(), digest_size=32).hexdigest(),
        )

    def _items(self, token: str, changes: list[Change]) -> list[PriceChangeItem]:
        items = []
        for side, px, sz in changes:
            best_bid, best_ask = self.tops.change(token, side, px, sz)
            items.append(
                PriceChangeItem(
                    asset_id=token,
                    price=format_e6(px),
                    size=format_e6(sz),
                    side=SIDE_BUY if side == BID else SIDE_SELL,
                    hash=self._hash(),
                    best_bid=best_bid,
                    best_ask=best_ask,
                )
            )
        return items

    def _hash(self) -> str:
        return blake2b(next(self._orders).to_bytes(8, "big"), digest_size=20).hexdigest()


def wire_levels(levels: list[Level]) -> list[WireLevel]:
    """Return best-first levels in the live ordering: the best level LAST."""
    return [WireLevel(format_e6(px), format_e6(sz)) for px, sz in reversed(levels)]
