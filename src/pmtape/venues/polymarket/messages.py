"""Polymarket's wire messages as msgspec Structs, named and shaped as the venue sends them.

Market-channel messages are tagged by ``event_type``; numbers stay decimal strings. These are
the full shapes (the fake server encodes them; tests build fixtures from them). The
normalizer decodes through leaner views of the same messages that carry only the fields it
uses. Gamma objects are decoded leniently: many fields are optional or change type.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Protocol

import msgspec

DEFAULT_MIN_ORDER_SIZE = "5"
"""A market's ``min_order_size`` when nothing says otherwise (a live book hash matched it)."""
DEFAULT_NEG_RISK = False
"""A market's ``neg_risk`` when nothing says otherwise."""
RAW_MIN_ORDER_SIZE = "min_order_size"
"""``Instrument.raw`` key of the market's ``min_order_size``, as the CLOB writes it ("5")."""
RAW_NEG_RISK = "neg_risk"
"""``Instrument.raw`` key of the market's ``neg_risk`` (a bool)."""


class Level(msgspec.Struct, gc=False):
    """One price level: new total size at a price (both decimal strings)."""

    price: str
    size: str


class _PriceSize(Protocol):
    @property
    def price(self) -> Any: ...
    @property
    def size(self) -> Any: ...


class _HashDoc(msgspec.Struct, gc=False):
    # The fields a book's hash covers, in the venue's order (PROTOCOLS §1.4.1).
    market: Any
    asset_id: Any
    timestamp: Any
    hash: str
    bids: list[Any]
    asks: list[Any]
    min_order_size: Any
    tick_size: Any
    neg_risk: Any
    last_trade_price: Any


_encode_hash_doc = msgspec.json.Encoder().encode


def _hash_levels(levels: Iterable[_PriceSize]) -> list[Any]:
    # Level structs (price, size: the wire's order) encode as served; anything else is copied.
    if isinstance(levels, list) and all(isinstance(lv, msgspec.Struct) for lv in levels[:1]):
        return levels
    return [{"price": lv.price, "size": lv.size} for lv in levels]


def book_hash(
    market: Any,
    asset_id: Any,
    timestamp: Any,
    bids: Iterable[_PriceSize],
    asks: Iterable[_PriceSize],
    min_order_size: Any,
    tick_size: Any,
    neg_risk: Any,
    last_trade_price: Any,
) -> str:
    """Return a book's ``hash`` as the venue computes it (PROTOCOLS §1.4.1, §1.6.4).

    SHA-1 hex of the compact JSON (non-ASCII kept) of these fields in this order, with
    ``hash`` empty and every value exactly as served (levels in wire order). Encoded by
    msgspec (about 7 µs for 100 levels, a tenth of ``json.dumps``): it checks every book.
    """
    doc = _HashDoc(
        market,
        asset_id,
        timestamp,
        "",
        _hash_levels(bids),
        _hash_levels(asks),
        min_order_size,
        tick_size,
        neg_risk,
        last_trade_price,
    )
    return hashlib.sha1(_encode_hash_doc(doc), usedforsecurity=False).hexdigest()


class BookMsg(msgspec.Struct, tag_field="event_type", tag="book", kw_only=True, omit_defaults=True):
    """``book``: the full book of one token; bids ascending, asks descending (best last)."""

    market: str
    asset_id: str
    timestamp: str
    hash: str | None = None
    bids: list[Level]
    asks: list[Level]
    tick_size: str | None = None
    last_trade_price: str | None = None


class PriceChangeItem(msgspec.Struct, kw_only=True):
    """One level change inside ``price_change``; ``hash`` is the order's, not the book's."""

    asset_id: str
    price: str
    size: str
    side: str
    hash: str
    best_bid: str
    best_ask: str


class PriceChangeMsg(msgspec.Struct, tag_field="event_type", tag="price_change", kw_only=True):
    """``price_change`` (since 2025-09-15): level changes of one market, each with its asset."""

    market: str
    price_changes: list[PriceChangeItem]
    timestamp: str


class LegacyChange(msgspec.Struct):
    """One change of a pre-2025-09-15 ``price_change`` (old captures only)."""

    price: str
    side: str
    size: str


class LegacyPriceChangeMsg(
    msgspec.Struct, tag_field="event_type", tag="price_change", kw_only=True
):
    """``price_change`` as sent before 2025-09-15: one asset, top-level ``changes``."""

    asset_id: str
    market: str
    hash: str
    timestamp: str
    changes: list[LegacyChange]


class TickSizeChangeMsg(
    msgspec.Struct, tag_field="event_type", tag="tick_size_change", kw_only=True
):
    """``tick_size_change``: the token's tick moved (existing level prices stay valid)."""

    market: str
    asset_id: str
    old_tick_size: str
    new_tick_size: str
    timestamp: str


class LastTradePriceMsg(
    msgspec.Struct, tag_field="event_type", tag="last_trade_price", kw_only=True, omit_defaults=True
):
    """``last_trade_price``: one fill; ``side`` is the taker's."""

    market: str
    asset_id: str
    price: str
    size: str
    side: str
    fee_rate_bps: str | None = None
    timestamp: str
    transaction_hash: str | None = None


class BestBidAskMsg(msgspec.Struct, tag_field="event_type", tag="best_bid_ask", kw_only=True):
    """``best_bid_ask`` (custom feature): the venue's top of book for one token."""

    market: str
    asset_id: str
    best_bid: str
    best_ask: str
    spread: str
    timestamp: str


class EventMessage(msgspec.Struct, kw_only=True):
    """The parent event embedded in ``new_market``."""

    id: str
    ticker: str
    slug: str
    title: str
    description: str = ""


class NewMarketMsg(
    msgspec.Struct, tag_field="event_type", tag="new_market", kw_only=True, omit_defaults=True
):
    """``new_market`` (custom feature): a market opened; ``outcomes`` is a real array here."""

    id: str
    question: str
    market: str
    slug: str
    description: str = ""
    assets_ids: list[str]
    outcomes: list[str]
    event_message: EventMessage | None = None
    timestamp: str
    tags: list[str] = []
    active: bool | None = None
    clob_token_ids: list[str] | None = None
    order_price_min_tick_size: str | None = None


class MarketResolvedMsg(
    msgspec.Struct, tag_field="event_type", tag="market_resolved", kw_only=True, omit_defaults=True
):
    """``market_resolved`` (custom feature), in the slim form seen live."""

    id: str
    market: str
    assets_ids: list[str]
    winning_asset_id: str
    winning_outcome: str
    timestamp: str
    tags: list[str] = []


MarketMessage = (
    BookMsg
    | PriceChangeMsg
    | TickSizeChangeMsg
    | LastTradePriceMsg
    | BestBidAskMsg
    | NewMarketMsg
    | MarketResolvedMsg
)


class RestBook(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``GET /book`` body (and one element of ``POST /books``); same ordering as WS ``book``."""

    market: str
    asset_id: str
    timestamp: str
    hash: str | None = None
    bids: list[Level]
    asks: list[Level]
    min_order_size: str = "5"
    tick_size: str = "0.01"
    neg_risk: bool = False
    last_trade_price: str = ""


# -- client -> server (market channel) ----------------------------------------------------------


class MarketSubscription(msgspec.Struct, kw_only=True):
    """The first frame after open: which tokens, and whether to dump their books."""

    type: str = "market"
    assets_ids: list[str]
    initial_dump: bool = True
    custom_feature_enabled: bool = True


class SubscriptionUpdate(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Add or remove tokens on the open socket (``operation``: subscribe | unsubscribe)."""

    operation: str
    assets_ids: list[str]
    custom_feature_enabled: bool | None = None
    initial_dump: bool | None = None


# -- Gamma (discovery) ------------------------------------------------------------------------

Number = str | int | float


class GammaTag(msgspec.Struct, kw_only=True):
    """A tag as Gamma embeds it with ``include_tag=true``."""

    id: str | int | None = None
    label: str | None = None
    slug: str | None = None


class GammaEventRef(msgspec.Struct, kw_only=True):
    """The parent event a market object embeds (usually one)."""

    id: str | int | None = None
    slug: str | None = None
    title: str | None = None
    ticker: str | None = None


class GammaMarket(msgspec.Struct, kw_only=True):
    """The fields of a Gamma market object a collector needs; everything else stays raw."""

    id: str | int
    question: str | None = None
    conditionId: str | None = None
    slug: str | None = None
    endDate: str | None = None
    startDate: str | None = None
    outcomes: str | list[str] | None = None
    clobTokenIds: str | list[str] | None = None
    active: bool | None = None
    closed: bool | None = None
    archived: bool | None = None
    enableOrderBook: bool | None = None
    volume: Number | None = None
    volumeNum: Number | None = None
    liquidity: Number | None = None
    liquidityNum: Number | None = None
    volume24hr: Number | None = None
    orderPriceMinTickSize: Number | None = None
    orderMinSize: Number | None = None
    negRisk: bool | None = None
    tags: list[GammaTag] | None = None
    events: list[GammaEventRef] | None = None


class GammaKeysetPage(msgspec.Struct, kw_only=True):
    """A keyset page: ``next_cursor`` is absent on the last page."""

    markets: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    next_cursor: str | None = None
