"""Limitless discovery: funded, unexpired CLOB markets by underlying and category.

A cycle walks ``/markets/active`` in pages of 25 (``tradeType=clob`` asked for, and still
checked: pages mix CLOB and AMM markets). A group market (NegRisk parent) is not itself a
book: its child CLOB markets are considered instead. A market is kept when it trades on
the order book (``tradeType`` clob with a YES token; AMM pool markets have neither), its
status is ``FUNDED``, its ``expirationTimestamp`` is ahead, and it passes the configured
rules: underlyings (a tag, the oracle's ticker or a recurring slug's asset) and categories.
One instrument per market: ``instrument_id = "BOOK"``, market id and poll key the slug.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import msgspec

from pmtape.core.instrument import Instrument, MarketInfo
from pmtape.venues.base import DiscoveryResult
from pmtape.venues.limitless.constants import (
    INSTRUMENT_ID,
    MARKET_GROUP,
    RAW_SIZE_SCALE,
    RULE,
    STATUS_FUNDED,
    TRADE_CLOB,
    VENUE,
)
from pmtape.venues.limitless.rest import LimitlessRest
from pmtape.venues.limitless.settings import LimitlessVenueConfig

_RECURRING = "-up-or-down-"


class LTokens(msgspec.Struct, kw_only=True):
    """A CLOB market's outcome token ids."""

    yes: str | None = None
    no: str | None = None


class LOracle(msgspec.Struct, kw_only=True):
    """The oracle of a price market (only the asset matters here)."""

    ticker: str | None = None
    symbol: str | None = None


class LMarket(msgspec.Struct, kw_only=True):
    """The fields of a market object discovery reads; the rest stays raw."""

    slug: str = ""
    title: str | None = None
    tradeType: str | None = None
    marketType: str | None = None
    status: str | None = None
    expirationTimestamp: int | None = None
    categories: list[str] = []
    tags: list[str] = []
    tokens: LTokens | None = None
    volume: str | int | float | None = None
    priceOracleMetadata: LOracle | None = None
    markets: list[dict[str, Any]] | None = None


class LimitlessDiscovery:
    """Runs discovery cycles against one deployment's public REST."""

    def __init__(self, config: LimitlessVenueConfig) -> None:
        self.config = config
        self.stats: Counter[str] = Counter()

    async def discover(self, rest: LimitlessRest, now_ms: int) -> DiscoveryResult:
        """List active markets, keep the CLOB ones that pass the rules."""
        cfg = self.config
        found: dict[str, tuple[MarketInfo, Instrument, dict[str, Any]]] = {}
        pages = rest.iter_active(
            {"tradeType": TRADE_CLOB},
            page_size=cfg.discovery_page_size,
            max_pages=cfg.discovery_max_pages,
        )
        async with contextlib.aclosing(pages):
            async for markets in pages:
                self.stats["pages"] += 1
                for raw in markets:
                    self._consider(raw, None, now_ms, found)
                if len(found) >= cfg.max_markets:
                    break
        chosen = list(found.values())[: cfg.max_markets]
        return DiscoveryResult(
            markets=[c[0] for c in chosen],
            instruments=[c[1] for c in chosen],
            raw=[c[2] for c in chosen],
        )

    def _consider(
        self,
        raw: dict[str, Any],
        parent: LMarket | None,
        now_ms: int,
        found: dict[str, tuple[MarketInfo, Instrument, dict[str, Any]]],
    ) -> None:
        self.stats["fetched"] += 1
        try:
            market = msgspec.convert(raw, LMarket, strict=False)
        except msgspec.ValidationError:
            self.stats["rejected_malformed"] += 1
            return
        if parent is not None:
            market = _inherit(market, parent)
        if (market.marketType or "").lower() == MARKET_GROUP:
            self.stats["groups"] += 1
            for child in market.markets or ():
                self._consider(child, market, now_ms, found)
            return
        reason, underlying = self._reject_reason(market, now_ms)
        if reason is not None:
            self.stats[f"rejected_{reason}"] += 1
            return
        self.stats["accepted"] += 1
        info, inst = build_market(market, underlying)
        found[market.slug] = (info, inst, raw)

    def _reject_reason(self, m: LMarket, now_ms: int) -> tuple[str | None, str | None]:
        cfg = self.config
        if not m.slug:
            return "malformed", None
        if (m.tradeType or "").lower() != TRADE_CLOB:
            return "amm", None
        if m.tokens is None or not m.tokens.yes:
            return "no_tokens", None
        if (m.status or "").lower() != STATUS_FUNDED:
            return "status", None
        if m.expirationTimestamp is not None and m.expirationTimestamp <= now_ms:
            return "expired", None
        underlying = _underlying(m, [u.lower() for u in cfg.underlyings])
        if cfg.underlyings and underlying is None:
            return "underlying", None
        wanted = {c.lower() for c in cfg.categories}
        if wanted and not wanted & {c.lower() for c in m.categories}:
            return "category", None
        return None, underlying


def build_market(m: LMarket, underlying: str | None) -> tuple[MarketInfo, Instrument]:
    """Return the market line and its one instrument (keyed by slug)."""
    tags = sorted({t.lower() for t in (*m.categories, *m.tags) if t})
    activity = _volume(m)
    title = m.title or m.slug
    info = MarketInfo(
        venue=VENUE,
        market_id=m.slug,
        title=title,
        outcome_ids=[INSTRUMENT_ID],
        outcomes=["Yes"],
        close_ts=m.expirationTimestamp,
        status="active",
        tags=tags,
        slug=m.slug,
        activity=activity,
    )
    inst = Instrument(
        venue=VENUE,
        market_id=m.slug,
        instrument_id=INSTRUMENT_ID,
        poll_key=m.slug,
        slug=m.slug,
        expiration=m.expirationTimestamp,
        underlying=underlying or _asset(m),
        title=title,
        outcome="Yes",
        rule=RULE,
        tags=tags,
        activity=activity,
    )
    return info, inst


def _inherit(child: LMarket, parent: LMarket) -> LMarket:
    # A group's children may leave out what the parent states once for all of them.
    return msgspec.structs.replace(
        child,
        categories=child.categories or parent.categories,
        tags=child.tags or parent.tags,
        tradeType=child.tradeType or parent.tradeType,
        status=child.status or parent.status,
        expirationTimestamp=child.expirationTimestamp or parent.expirationTimestamp,
    )


def _asset(m: LMarket) -> str | None:
    # The oracle's ticker, else the asset of a recurring slug (``btc-up-or-down-hourly-...``).
    oracle = m.priceOracleMetadata
    if oracle is not None and (oracle.ticker or oracle.symbol):
        return (oracle.ticker or oracle.symbol or "").lower()
    head, sep, _ = m.slug.partition(_RECURRING)
    return head.lower() if sep and head else None


def _underlying(m: LMarket, wanted: list[str]) -> str | None:
    candidates = {t.lower() for t in m.tags}
    asset = _asset(m)
    if asset:
        candidates.add(asset)
    return next((u for u in wanted if u in candidates), None)


def _volume(m: LMarket) -> float:
    # Raw USDC units (6 decimals) as a ranking hint only: a float is fine here.
    if m.volume is None or isinstance(m.volume, bool):
        return 0.0
    try:
        return float(m.volume) / RAW_SIZE_SCALE
    except (TypeError, ValueError):
        return 0.0
