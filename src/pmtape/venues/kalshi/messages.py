"""Kalshi's wire messages as msgspec Structs, named and shaped as the venue sends them (§2).

WebSocket messages share the envelope ``{"type", "sid", "seq", "msg"}`` (``id`` on command
replies); prices are ``*_dollars`` strings, counts ``*_fp`` strings, both kept as text until
the normalizer makes e6 integers of them. Book ladders are bids only, YES and NO, ascending
(best last). These are the full shapes the fake encodes; the normalizer and discovery decode
through leaner, more tolerant views.
"""

from __future__ import annotations

from typing import Any

import msgspec

Ladder = list[tuple[str, str]]
"""``[[price_dollars, count_fp], ...]`` ascending by price, best bid last."""


# -- REST ------------------------------------------------------------------------------------------


class PriceRange(msgspec.Struct):
    """One band of a market's tick structure."""

    start: str
    end: str
    step: str


class Market(msgspec.Struct, kw_only=True):
    """A market object of ``GET /markets`` (the fields a collector uses, current names)."""

    ticker: str
    event_ticker: str
    market_type: str = "binary"
    title: str = ""
    subtitle: str = ""  # deprecated, still sent
    yes_sub_title: str = ""
    no_sub_title: str = ""
    created_time: str
    updated_time: str
    open_time: str
    close_time: str
    latest_expiration_time: str
    settlement_timer_seconds: int = 0
    status: str = "active"
    yes_bid_dollars: str = "0.0000"
    yes_ask_dollars: str = "1.0000"
    no_bid_dollars: str = "0.0000"
    no_ask_dollars: str = "1.0000"
    yes_bid_size_fp: str = "0.00"
    yes_ask_size_fp: str = "0.00"
    last_price_dollars: str = "0.0000"
    previous_yes_bid_dollars: str = "0.0000"
    previous_yes_ask_dollars: str = "0.0000"
    previous_price_dollars: str = "0.0000"
    volume_fp: str = "0.00"
    volume_24h_fp: str = "0.00"
    open_interest_fp: str = "0.00"
    liquidity_dollars: str = "0.0000"  # always zero on the venue
    notional_value_dollars: str = "1.0000"
    result: str = ""
    settlement_value_dollars: str | None = None
    settlement_ts: str | None = None
    can_close_early: bool = False
    expiration_value: str = ""
    price_level_structure: str = "linear_cent"
    price_ranges: list[PriceRange]
    fractional_trading_enabled: bool = True
    rules_primary: str = ""
    rules_secondary: str = ""


class MarketsPage(msgspec.Struct):
    """``GET /markets``: an empty ``cursor`` marks the last page."""

    markets: list[Market]
    cursor: str = ""


class Event(msgspec.Struct, kw_only=True):
    """An event of ``GET /events`` (``markets`` null unless ``with_nested_markets=true``)."""

    event_ticker: str
    series_ticker: str
    title: str = ""
    sub_title: str = ""
    category: str = ""
    mutually_exclusive: bool = False
    strike_date: str | None = None
    strike_period: str | None = None
    collateral_return_type: str = "binary"
    available_on_brokers: bool = False
    markets: list[Market] | None = None


class EventsPage(msgspec.Struct):
    """``GET /events``: an empty ``cursor`` marks the last page."""

    events: list[Event]
    cursor: str = ""


class OrderbookFp(msgspec.Struct):
    """A bids-only YES/NO book (``orderbook_fp``): an empty side is ``[]``."""

    yes_dollars: Ladder = []
    no_dollars: Ladder = []


class OrderbookItem(msgspec.Struct):
    """One element of ``GET /markets/orderbooks``."""

    ticker: str
    orderbook_fp: OrderbookFp


class OrderbooksPage(msgspec.Struct):
    """``GET /markets/orderbooks?tickers=A,B``."""

    orderbooks: list[OrderbookItem]


class SettlementSource(msgspec.Struct):
    """Where a series' outcomes are read from."""

    name: str
    url: str


class Series(msgspec.Struct, kw_only=True):
    """A series of ``GET /series`` and ``GET /series/{series_ticker}``."""

    ticker: str
    frequency: str
    title: str
    category: str
    tags: list[str] = []
    settlement_sources: list[SettlementSource] = []
    contract_url: str = ""
    contract_terms_url: str = ""
    fee_type: str = "quadratic"
    fee_multiplier: float = 1.0
    additional_prohibitions: list[str] = []


class RestTrade(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A row of ``GET /markets/trades`` (newest first)."""

    trade_id: str
    ticker: str
    count_fp: str
    yes_price_dollars: str
    no_price_dollars: str
    taker_side: str
    taker_outcome_side: str
    taker_book_side: str
    created_time: str


class TradesPage(msgspec.Struct):
    """``GET /markets/trades``: an empty ``cursor`` marks the last page."""

    trades: list[RestTrade]
    cursor: str = ""


# -- WebSocket: client -> server --------------------------------------------------------------


class Command(msgspec.Struct, kw_only=True):
    """A command: a client-chosen ``id``, the ``cmd`` and its ``params``."""

    id: int
    cmd: str
    params: dict[str, Any] = {}


# -- WebSocket: server -> client --------------------------------------------------------------


class SnapshotBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``orderbook_snapshot.msg``: a side with no bids may be absent altogether."""

    market_ticker: str
    market_id: str
    yes_dollars_fp: Ladder | None = None
    no_dollars_fp: Ladder | None = None


class DeltaBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``orderbook_delta.msg``: ``delta_fp`` is a signed increment of the level's count."""

    market_ticker: str
    market_id: str
    price_dollars: str
    delta_fp: str
    side: str
    ts: str
    ts_ms: int


class TradeBody(msgspec.Struct, kw_only=True):
    """``trade.msg``."""

    trade_id: str
    market_ticker: str
    yes_price_dollars: str
    no_price_dollars: str
    count_fp: str
    taker_side: str
    taker_outcome_side: str
    taker_book_side: str
    ts: int
    ts_ms: int


class LifecycleBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``market_lifecycle_v2`` (§2.6.8): a market created, activated, determined, settled.

    ``open_ts``/``close_ts`` (created), ``result``/``determination_ts`` (determined) and
    ``settled_ts`` (settled) are epoch seconds and sent only with their event type.
    """

    event_type: str
    market_ticker: str
    open_ts: int | None = None
    close_ts: int | None = None
    result: str | None = None
    determination_ts: int | None = None
    settled_ts: int | None = None


class TickerBody(msgspec.Struct, kw_only=True):
    """``ticker.msg``: a market's top of book and totals (no ``seq`` on this channel)."""

    market_ticker: str
    market_id: str
    price_dollars: str
    yes_bid_dollars: str
    yes_ask_dollars: str
    yes_bid_size_fp: str
    yes_ask_size_fp: str
    last_trade_size_fp: str
    volume_fp: str
    open_interest_fp: str
    dollar_volume: int
    dollar_open_interest: int
    ts: int
    ts_ms: int
    time: str


class OrderbookSnapshotMsg(msgspec.Struct, tag_field="type", tag="orderbook_snapshot"):
    """A full book of one market on a subscription; shares ``seq`` with its deltas."""

    sid: int
    seq: int
    msg: SnapshotBody


class OrderbookDeltaMsg(msgspec.Struct, tag_field="type", tag="orderbook_delta"):
    """One level change of one market."""

    sid: int
    seq: int
    msg: DeltaBody


class TradeMsg(msgspec.Struct, tag_field="type", tag="trade"):
    """One fill."""

    sid: int
    seq: int
    msg: TradeBody


class SubscribedMsg(msgspec.Struct, tag_field="type", tag="subscribed"):
    """The reply to ``subscribe``: one per channel, each with its own ``sid``."""

    id: int
    msg: dict[str, Any]


class OkMsg(msgspec.Struct, tag_field="type", tag="ok", omit_defaults=True):
    """The reply to ``update_subscription`` and ``list_subscriptions``."""

    id: int
    sid: int | None = None
    seq: int | None = None
    msg: Any = None


class UnsubscribedMsg(msgspec.Struct, tag_field="type", tag="unsubscribed"):
    """The reply to ``unsubscribe``, one per sid."""

    id: int
    sid: int
    seq: int


class ErrorMsg(msgspec.Struct, tag_field="type", tag="error"):
    """A refused command: ``msg`` is ``{"code", "msg"}``."""

    id: int
    msg: dict[str, Any]
