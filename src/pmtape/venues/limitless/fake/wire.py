"""The fake Limitless's wire: sim markets as Limitless CLOB markets, books as the venue sends them.

Each sim market is one CLOB market whose book is the sim "Yes" token's true book, keyed by a
slug (rolling series get the venue's ``<asset>-up-or-down-<period>-<start s>`` pattern).
Books list levels best first, prices as JSON numbers and sizes as raw 1e6 integers — an e6
size is already in those units. Decoys a collector must filter out are listed beside the
real markets: AMM pool markets (no tokens), a CLOB market without tokens, a resolved one,
an expired one still listed, and group (NegRisk) parents whose child is the real market.
Every object carries the fields the venue always sends (and the official SDK's ``Market``
model requires) even where pmtape ignores them: ``creator``, ``priorityIndex``, a
``collateralToken`` and ``metadata.fee`` — AMM and group rows included.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import Any

import msgspec

from pmtape.core.events import Level
from pmtape.core.fixed import SCALE, e6_to_float
from pmtape.venues.limitless.messages import CollateralToken, Market, Orderbook, OrderLevel
from pmtape.venues.sim.generator import SimMarket

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PERIODS = {5: "5-min", 15: "15-min", 60: "hourly", 1440: "daily"}
_USDC = CollateralToken(
    address="0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", decimals=6, symbol="USDC"
)
_EXCHANGE = "0x05c748E2f4DcDe0ec9Fa8DDc40DE6b867f923fa5"
GROUP_EVERY = 10
"""Every 10th market (slot 5, 15, ...) is listed as the child of a group market."""
DECOY_EVERY = 8


class MarketCreator(msgspec.Struct, kw_only=True):
    """``creator`` of a market object (who listed it)."""

    name: str = "Limitless"
    imageURI: str | None = None
    link: str | None = None


class MarketVenue(msgspec.Struct, kw_only=True):
    """``venue`` of a market detail: the contracts an order is signed for (trading only)."""

    exchange: str = _EXCHANGE
    adapter: str | None = None


class VenueMarket(Market, kw_only=True):
    """A market object with the fields the venue sends beyond what pmtape reads."""

    creator: MarketCreator = msgspec.field(default_factory=MarketCreator)
    priorityIndex: int = 0
    venue: MarketVenue | None = None
    negRiskMarketId: str | None = None
    outcomeTokens: list[str] | None = None


def iso(ts_ms: int) -> str:
    """Format epoch ms as ISO-8601 with milliseconds, as the venue does."""
    when = _EPOCH + timedelta(milliseconds=ts_ms)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"


def slug_of(m: SimMarket) -> str:
    """Return the Limitless slug of a sim market."""
    if m.series:
        asset, _, rest = m.series.partition("-")
        minutes = int(rest.rsplit("-", 1)[-1].rstrip("m") or 0)
        period = _PERIODS.get(minutes, f"{minutes}-min")
        return f"{asset}-up-or-down-{period}-{m.open_ts // 1000}"
    return m.slug


def market_object(m: SimMarket, slug: str, *, detail: bool = False) -> VenueMarket:
    """Return a CLOB market object as ``/markets/active`` (or ``/markets/{slug}``) lists it."""
    crypto = m.series is not None
    asset = slug.partition("-")[0]
    categories = ["Crypto", "Hourly"] if crypto else [m.tags[0].title()]
    tags = [asset] if crypto else [m.tags[1]]
    digest = blake2b(f"cond:{slug}".encode(), digest_size=32).hexdigest()
    return VenueMarket(
        id=40_000 + m.slot,
        slug=slug,
        title=m.title,
        description=f"Resolves on {m.title}",
        expirationDate=iso(m.close_ts)[:10],
        expirationTimestamp=m.close_ts,
        createdAt=iso(m.open_ts),
        updatedAt=iso(m.open_ts),
        categories=categories,
        tags=tags,
        collateralToken=_USDC,
        conditionId="0x" + digest,
        tokens={"yes": m.yes_token, "no": m.no_token},
        prices=[0.5, 0.5],
        volume=str(round(m.activity * 1000) * SCALE),
        volumeFormatted=f"{round(m.activity * 1000):,}",
        metadata={"fee": True},
        priorityIndex=m.slot,
        venue=MarketVenue() if detail else None,
    )


def orderbook(token: str, bids: list[Level], asks: list[Level], *, rest: bool) -> Orderbook:
    """Return a book best first; ``maxSpread``/``minSize`` strings over REST, numbers on WS."""
    best_bid = bids[0][0] if bids else 0
    best_ask = asks[0][0] if asks else SCALE
    mid = e6_to_float((best_bid + best_ask) // 2)
    return Orderbook(
        bids=[OrderLevel(e6_to_float(px), sz, "BUY") for px, sz in bids],
        asks=[OrderLevel(e6_to_float(px), sz, "SELL") for px, sz in asks],
        tokenId=token,
        adjustedMidpoint=mid,
        midpoint=mid,
        maxSpread="0.05" if rest else 0.05,
        minSize="5000000" if rest else 5_000_000,
    )


def decoys(m: SimMarket, slug: str, now_ms: int) -> list[Market]:
    """Return the decoy market objects listed beside market ``m``."""
    base = market_object(m, slug)
    amm = VenueMarket(
        id=90_000 + m.slot,
        slug=f"{slug}-pool",
        title=f"{m.title} (pool)",
        tradeType="amm",
        expirationDate=base.expirationDate,
        expirationTimestamp=m.close_ts,
        createdAt=base.createdAt,
        updatedAt=base.updatedAt,
        categories=base.categories,
        tags=base.tags,
        collateralToken=_USDC,
        address="0x" + blake2b(slug.encode(), digest_size=20).hexdigest(),
        prices=[0.5, 0.5],
        metadata={"fee": False},
        priorityIndex=base.priorityIndex,
    )
    no_tokens = _variant(base, "-tokenless", tokens=None)
    resolved = _variant(base, "-resolved", status="RESOLVED", winningOutcomeIndex=0)
    expired = _variant(base, "-expired", expirationTimestamp=now_ms - 60_000)
    return [amm, no_tokens, resolved, expired]


def group_of(child: VenueMarket) -> VenueMarket:
    """Return a group (NegRisk) parent listing ``child`` as its only market."""
    digest = blake2b(f"negrisk:{child.slug}".encode(), digest_size=32).hexdigest()
    return VenueMarket(
        id=80_000 + child.id,
        slug=f"{child.slug}-group",
        title=f"{child.title} (group)",
        marketType="group",
        expirationDate=child.expirationDate,
        expirationTimestamp=child.expirationTimestamp,
        createdAt=child.createdAt,
        updatedAt=child.updatedAt,
        categories=child.categories,
        tags=child.tags,
        collateralToken=_USDC,
        tokens=None,
        markets=[child],
        metadata={"fee": True},
        priorityIndex=child.priorityIndex,
        negRiskMarketId="0x" + digest,
        outcomeTokens=[child.title],
    )


def _variant(base: VenueMarket, suffix: str, **changes: Any) -> VenueMarket:
    extra = 100_000 * len(suffix)
    return msgspec.structs.replace(base, slug=base.slug + suffix, id=base.id + extra, **changes)
