"""Kalshi discovery: open markets over public REST, one instrument (the YES book) each.

A cycle pages ``GET /events?status=open`` (categories, titles, series) and ``GET
/markets?status=open&mve_filter=exclude`` (the markets), both to their empty cursor, once
per configured series (or once for all). A market is kept when its response status is live
(``active``), its ``close_time`` is still ahead (``status=open`` can return a market
settled seconds ago), and it passes the configured rules: event category, minimum 24 h
volume. The busiest ``max_markets`` are published.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import msgspec

from pmtape.core.clock import iso_ms
from pmtape.core.events import MarketStatus
from pmtape.core.instrument import Instrument, MarketInfo, tick_e6_of
from pmtape.venues.base import DiscoveryResult
from pmtape.venues.kalshi.constants import (
    EVENTS,
    EVENTS_PAGE_MAX,
    FILTER_OPEN,
    INSTRUMENT_ID,
    LIVE_STATUSES,
    MARKETS,
    RULE,
    STATUS_ACTIVE,
    STATUS_NEW,
    VENUE,
)
from pmtape.venues.kalshi.rest import KalshiRest
from pmtape.venues.kalshi.settings import KalshiVenueConfig

Number = str | int | float
RULE_LIFECYCLE = RULE + "-lifecycle"
"""The rule of instruments built from a ``market_lifecycle_v2`` event (before discovery)."""


class KMarket(msgspec.Struct, kw_only=True):
    """The fields of a market object discovery reads; the rest stays raw."""

    ticker: str
    event_ticker: str = ""
    status: str = ""
    title: str | None = None
    yes_sub_title: str | None = None
    close_time: str | None = None
    volume_24h_fp: Number | None = None
    volume_24h: Number | None = None  # legacy integer
    price_ranges: list[KPriceRange] | None = None


class KPriceRange(msgspec.Struct, kw_only=True):
    """One band of a market's price grid: ``step`` (dollars string) between start and end."""

    step: Number | None = None


class KEvent(msgspec.Struct, kw_only=True):
    """The fields of an event object discovery reads."""

    event_ticker: str
    series_ticker: str = ""
    title: str | None = None
    category: str | None = None


class _Found(msgspec.Struct):
    market: MarketInfo
    instrument: Instrument
    raw: dict[str, Any]


class KalshiDiscovery:
    """Runs discovery cycles against one deployment's public REST."""

    def __init__(self, config: KalshiVenueConfig) -> None:
        self.config = config
        self.stats: Counter[str] = Counter()

    async def discover(self, rest: KalshiRest, now_ms: int) -> DiscoveryResult:
        """List open events and markets, keep those that pass, busiest first."""
        cfg = self.config
        found: dict[str, _Found] = {}
        series_list: list[str | None] = [*cfg.series] or [None]
        for series in series_list:
            events = await self._events(rest, series)
            params = {
                "status": FILTER_OPEN,
                "limit": cfg.discovery_page_size,
                "mve_filter": "exclude",
                "series_ticker": series,
            }
            pages = rest.iter_pages(MARKETS, "markets", params, max_pages=cfg.discovery_max_pages)
            async with contextlib.aclosing(pages):
                async for markets in pages:
                    self.stats["pages"] += 1
                    for raw in markets:
                        self._consider(raw, events, now_ms, found)
        ranked = sorted(found.values(), key=lambda f: -(f.market.activity or 0.0))
        chosen = ranked[: cfg.max_markets]
        return DiscoveryResult(
            markets=[f.market for f in chosen],
            instruments=[f.instrument for f in chosen],
            raw=[f.raw for f in chosen],
        )

    async def _events(self, rest: KalshiRest, series: str | None) -> dict[str, KEvent]:
        params = {"status": FILTER_OPEN, "limit": EVENTS_PAGE_MAX, "series_ticker": series}
        out: dict[str, KEvent] = {}
        pages = rest.iter_pages(EVENTS, "events", params, max_pages=self.config.discovery_max_pages)
        async with contextlib.aclosing(pages):
            async for events in pages:
                self.stats["event_pages"] += 1
                for raw in events:
                    try:
                        event = msgspec.convert(raw, KEvent, strict=False)
                    except msgspec.ValidationError:
                        self.stats["events_malformed"] += 1
                        continue
                    out[event.event_ticker] = event
        return out

    def _consider(
        self,
        raw: dict[str, Any],
        events: dict[str, KEvent],
        now_ms: int,
        found: dict[str, _Found],
    ) -> None:
        self.stats["fetched"] += 1
        try:
            market = msgspec.convert(raw, KMarket, strict=False)
        except msgspec.ValidationError:
            self.stats["rejected_malformed"] += 1
            return
        event = events.get(market.event_ticker)
        reason = self._reject_reason(market, event, now_ms)
        if reason is not None:
            self.stats[f"rejected_{reason}"] += 1
            return
        self.stats["accepted"] += 1
        info, inst = build_market(market, event)
        found[market.ticker] = _Found(info, inst, raw)

    def instruments_from_status(self, status: MarketStatus) -> list[Instrument]:
        """Return the YES book of a market ``market_lifecycle_v2`` says was created/activated.

        The event names only the ticker: the series rule applies (a ticker starts with its
        series' ticker); a category or 24 h volume rule cannot be judged from it, so with
        either configured the market waits for discovery.
        """
        cfg = self.config
        ticker = status.market_id
        if status.status not in (STATUS_NEW, STATUS_ACTIVE) or not ticker:
            return []
        if cfg.categories or cfg.min_volume_24h:
            return []
        if cfg.series and not any(ticker.startswith(f"{s}-") for s in cfg.series):
            return []
        inst = Instrument(
            venue=VENUE,
            market_id=ticker,
            instrument_id=INSTRUMENT_ID,
            poll_key=ticker,
            expiration=status.close_ts_ms,
            title=status.title,
            outcome="Yes",
            rule=RULE_LIFECYCLE,
        )
        return [inst]

    def _reject_reason(self, m: KMarket, event: KEvent | None, now_ms: int) -> str | None:
        cfg = self.config
        if not m.ticker:
            return "malformed"
        if m.status.lower() not in LIVE_STATUSES:
            return "status"
        close = iso_ms(m.close_time) if m.close_time else None
        if close is not None and close <= now_ms:
            return "expired"
        if cfg.categories:
            category = (event.category or "").lower() if event is not None else ""
            if category not in {c.lower() for c in cfg.categories}:
                return "category"
        if cfg.min_volume_24h and _volume(m) < cfg.min_volume_24h:
            return "volume"
        return None


def build_market(m: KMarket, event: KEvent | None) -> tuple[MarketInfo, Instrument]:
    """Return the market line and its one instrument (the YES book, keyed by ticker)."""
    close = iso_ms(m.close_time) if m.close_time else None
    series = event.series_ticker if event is not None else ""
    category = (event.category or "") if event is not None else ""
    tags = [t for t in (category.lower(), series.lower()) if t]
    title = _title(m, event)
    activity = _volume(m)
    info = MarketInfo(
        venue=VENUE,
        market_id=m.ticker,
        title=title,
        outcome_ids=[INSTRUMENT_ID],
        outcomes=["Yes"],
        close_ts=close,
        status="active",
        tags=tags,
        slug=m.event_ticker,
        activity=activity,
    )
    inst = Instrument(
        venue=VENUE,
        market_id=m.ticker,
        instrument_id=INSTRUMENT_ID,
        poll_key=m.ticker,
        slug=m.event_ticker,
        expiration=close,
        underlying=series or None,
        title=title,
        outcome="Yes",
        rule=RULE,
        tags=tags,
        activity=activity,
        tick_e6=_tick_e6(m),
    )
    return info, inst


def _tick_e6(m: KMarket) -> int:
    """Return the finest step of the market's price bands (e6), 0 if it states none.

    A tapered grid (0.001 near the ends, 0.01 between) is audited on its finest step: every
    valid price is a multiple of it, so a price off it is certainly off the grid.
    """
    steps = [tick_e6_of(r.step) for r in m.price_ranges or ()]
    return min((s for s in steps if s), default=0)


def _title(m: KMarket, event: KEvent | None) -> str:
    base = (event.title if event is not None else None) or m.title or m.ticker
    sub = m.yes_sub_title
    return f"{base}: {sub}" if sub and sub not in base else base


def _volume(m: KMarket) -> float:
    # Ranking and thresholds only (never prices): a float is fine; missing counts as zero.
    for value in (m.volume_24h_fp, m.volume_24h):
        if value is None or isinstance(value, bool):
            continue
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    return 0.0
