"""Limitless's wire messages as msgspec Structs, named and shaped as the venue sends them (§3).

Prices are JSON numbers in [0, 1]; sizes raw integers in 1e6 units. Book levels come best
first (bids descending, asks ascending) both over REST and in ``orderbookUpdate``, which is a
complete book every time. ``maxSpread``/``minSize`` are strings over REST and numbers over
the socket. These are the full shapes the fake encodes; the normalizer and discovery decode
through leaner, more tolerant views.
"""

from __future__ import annotations

from typing import Any

import msgspec


class OrderLevel(msgspec.Struct):
    """One level: ``price`` in [0, 1], ``size`` in raw 1e6 units, ``side`` BUY or SELL."""

    price: float
    size: int
    side: str


class Orderbook(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``GET /markets/{slug}/orderbook`` and ``orderbookUpdate.orderbook``.

    ``tokenId`` is the YES token; the body does not name the market's slug.
    """

    bids: list[OrderLevel]
    asks: list[OrderLevel]
    tokenId: str
    adjustedMidpoint: float | None = None
    midpoint: float | None = None
    maxSpread: str | float | None = None
    minSize: str | int | None = None
    lastTradePrice: float | None = None


class CollateralToken(msgspec.Struct):
    """The collateral of a market (USDC, 6 decimals)."""

    address: str
    decimals: int
    symbol: str


class Market(msgspec.Struct, kw_only=True):
    """A market object of ``GET /markets/active`` and ``GET /markets/{slug}``."""

    id: int
    slug: str
    title: str
    proxyTitle: str | None = None
    description: str = ""
    tradeType: str = "clob"
    marketType: str = "single"
    status: str = "FUNDED"
    expirationDate: str = ""
    expirationTimestamp: int | None = None
    createdAt: str = ""
    updatedAt: str = ""
    categories: list[str] = []
    tags: list[str] = []
    collateralToken: CollateralToken | None = None
    conditionId: str | None = None
    tokens: dict[str, str] | None = None
    prices: list[float] = []
    volume: str = "0"
    volumeFormatted: str = "0"
    address: str | None = None
    markets: list[Market] | None = None
    winningOutcomeIndex: int | None = None
    metadata: dict[str, Any] = {}


class ActivePage(msgspec.Struct):
    """``GET /markets/active``: past the end, ``data`` is empty and the count 0."""

    data: list[Market]
    totalMarketsCount: int


class OrderbookUpdate(msgspec.Struct, kw_only=True):
    """``orderbookUpdate``: a complete book; ``version`` is venue-global and non-decreasing."""

    marketSlug: str
    orderbook: Orderbook
    version: int
    timestamp: str


class MarketResolved(msgspec.Struct, kw_only=True):
    """``marketResolved`` (sent three times in a row, observed)."""

    slug: str
    type: str
    winningOutcome: str
    winningIndex: int
    resolutionDate: str


class SystemMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``system``: registration and subscription acknowledgements."""

    message: str
    markets: list[str] | None = None


class OraclePrice(msgspec.Struct, kw_only=True):
    """``oraclePriceData`` (undocumented, ~1/s on oracle markets): noise to a book collector."""

    marketAddress: str | None
    marketSlug: str
    source: str
    timestamp: int
    value: float


class EngineOpen(msgspec.Struct, kw_only=True):
    """The Engine.IO open packet's body (``0{...}``)."""

    sid: str
    upgrades: list[str]
    pingInterval: int
    pingTimeout: int
    maxPayload: int
