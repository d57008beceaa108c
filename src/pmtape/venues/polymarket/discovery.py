"""Gamma discovery: which Polymarket markets are active, as two instruments (tokens) each.

A market is kept when it has an order book, is active, not closed or archived, not past its
end date, has its token ids and outcomes (JSON-encoded strings, decoded a second time) in
matching numbers, and passes the configured rules: tags, slug globs, minimum liquidity and
volume. Pages come most active first (``order=volume24hr``), so the ``max_markets`` cap keeps
the busiest ones.

The active set's semantics are explicit: ``strict`` replaces it with each run's result;
``sticky`` also keeps, for ``sticky_grace_s``, markets a run did not see at all (a
failed page, a ranking that moved them past the cap) unless they are past their end date,
while a market a run saw closed, inactive or expired leaves at once. A ``market_resolved``
from the market channel can be fed back with ``apply_status``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
from collections import Counter
from typing import Any

import msgspec

from pmtape.core import clock
from pmtape.core.errors import PmtapeError
from pmtape.core.events import MarketStatus
from pmtape.core.fixed import format_e6, parse_e6
from pmtape.core.instrument import Instrument, MarketInfo, tick_e6_of
from pmtape.venues.base import DiscoveryResult
from pmtape.venues.polymarket.constants import RULE, STATUS_NEW, STATUS_RESOLVED, VENUE
from pmtape.venues.polymarket.messages import RAW_MIN_ORDER_SIZE, RAW_NEG_RISK, GammaMarket
from pmtape.venues.polymarket.rest import PolymarketRest
from pmtape.venues.polymarket.settings import PolymarketVenueConfig

RULE_STICKY = RULE + "-sticky"
RULE_LIFECYCLE = RULE + "-lifecycle"
"""The rule of instruments built from a market channel ``new_market`` (before Gamma lists it)."""


class _Kept(msgspec.Struct):
    market: MarketInfo
    instruments: list[Instrument]
    raw: dict[str, Any]
    last_seen_ms: int


class GammaDiscovery:
    """Runs discovery cycles and remembers what ``sticky`` needs between them."""

    def __init__(self, config: PolymarketVenueConfig) -> None:
        self.config = config
        self._kept: dict[str, _Kept] = {}
        self.stats: Counter[str] = Counter()

    def params(self) -> dict[str, Any]:
        """Return the server-side filters of a listing."""
        cfg = self.config
        return {
            "closed": False,
            "active": True,
            "archived": False,
            "order": "volume24hr",
            "ascending": False,
            "include_tag": True,
            "liquidity_num_min": cfg.min_liquidity or None,
            "volume_num_min": cfg.min_volume or None,
        }

    async def discover(self, rest: PolymarketRest, now_ms: int) -> DiscoveryResult:
        """List Gamma markets, keep those that pass, and apply the active-set semantics."""
        cfg = self.config
        fresh: dict[str, _Kept] = {}
        gone: set[str] = set()
        pages = rest.iter_markets(
            self.params(), page_size=cfg.discovery_page_size, max_pages=cfg.discovery_max_pages
        )
        async with contextlib.aclosing(pages):
            async for markets, _ts in pages:
                self.stats["pages"] += 1
                for raw in markets:
                    self._consider(raw, now_ms, fresh, gone)
                    if len(fresh) >= cfg.max_markets:
                        break
                if len(fresh) >= cfg.max_markets:
                    break
        return self._publish(fresh, gone, now_ms)

    def apply_status(self, status: MarketStatus) -> None:
        """Drop a market the venue says resolved from the sticky memory."""
        if status.status == STATUS_RESOLVED:
            keys = set(status.keys)
            for gid, kept in list(self._kept.items()):
                if gid == status.market_id or keys & set(kept.market.outcome_ids):
                    del self._kept[gid]

    def instruments_from_status(self, status: MarketStatus) -> list[Instrument]:
        """Return a ``new_market``'s instruments when it passes the rules it can be judged by.

        ``new_market`` carries the market's id, tokens, outcomes, question, slug and tags: tag
        and slug rules apply as in a listing. A brand-new market has no liquidity or volume
        yet, so a configured minimum of either keeps it out until discovery sees it pass.
        """
        cfg = self.config
        outcomes = status.outcomes
        if status.status != STATUS_NEW or not outcomes or len(outcomes) != len(status.keys):
            return []
        if cfg.min_liquidity or cfg.min_volume:
            return []
        tags = sorted({t.lower() for t in status.tags or () if t})
        if cfg.tags and not set(tags) & {t.lower() for t in cfg.tags}:
            return []
        slugs = [s.lower() for s in (status.slug, status.event_slug) if s]
        if cfg.slug_patterns and not any(
            fnmatch.fnmatchcase(s, p.lower()) for s in slugs for p in cfg.slug_patterns
        ):
            return []
        return [
            Instrument(
                venue=VENUE,
                market_id=status.market_id,
                instrument_id=token,
                poll_key=token,
                slug=status.slug or "",
                expiration=status.close_ts_ms,
                underlying=status.event_slug,
                title=status.title,
                outcome=outcome,
                rule=RULE_LIFECYCLE,
                tags=tags,
            )
            for token, outcome in zip(status.keys, outcomes, strict=True)
        ]

    def _consider(
        self, raw: dict[str, Any], now_ms: int, fresh: dict[str, _Kept], gone: set[str]
    ) -> None:
        self.stats["fetched"] += 1
        try:
            market = msgspec.convert(raw, GammaMarket, strict=False)
        except msgspec.ValidationError:
            self.stats["rejected_malformed"] += 1
            return
        gid = str(market.id)
        reason = self._reject_reason(market, now_ms)
        if reason is not None:
            self.stats[f"rejected_{reason}"] += 1
            if reason in ("closed", "inactive", "expired", "no_book"):
                gone.add(gid)
            return
        built = build_market(market, raw)
        if built is None:
            self.stats["rejected_tokens"] += 1
            return
        self.stats["accepted"] += 1
        fresh[gid] = _Kept(built[0], built[1], raw, now_ms)

    def _reject_reason(self, m: GammaMarket, now_ms: int) -> str | None:
        cfg = self.config
        if m.closed is True or m.archived is True:
            return "closed"
        if m.active is not True:
            return "inactive"
        if m.enableOrderBook is False:
            return "no_book"
        end = iso_ms(m.endDate)
        if end is not None and end <= now_ms:
            return "expired"
        if cfg.tags and not _tags_of(m) & {t.lower() for t in cfg.tags}:
            return "tags"
        if cfg.slug_patterns and not _slug_matches(m, cfg.slug_patterns):
            return "slug"
        if cfg.min_liquidity and _num(m.liquidityNum, m.liquidity) < cfg.min_liquidity:
            return "liquidity"
        if cfg.min_volume and _num(m.volumeNum, m.volume) < cfg.min_volume:
            return "volume"
        return None

    def _publish(self, fresh: dict[str, _Kept], gone: set[str], now_ms: int) -> DiscoveryResult:
        cfg = self.config
        chosen = dict(fresh)
        if cfg.active_set == "sticky":
            grace_ms = cfg.sticky_grace_s * 1000
            for gid, kept in self._kept.items():
                if gid in chosen or gid in gone or len(chosen) >= cfg.max_markets:
                    continue
                close = kept.market.close_ts
                if now_ms - kept.last_seen_ms <= grace_ms and (close is None or close > now_ms):
                    chosen[gid] = _sticky(kept)
                    self.stats["kept_sticky"] += 1
        self._kept = chosen
        return DiscoveryResult(
            markets=[k.market for k in chosen.values()],
            instruments=[i for k in chosen.values() for i in k.instruments],
            raw=[k.raw for k in fresh.values()],
        )


def build_market(m: GammaMarket, raw: dict[str, Any]) -> tuple[MarketInfo, list[Instrument]] | None:
    """Return the market line and its instruments (one per token), or None if ids are bad."""
    tokens = json_strings(m.clobTokenIds)
    outcomes = json_strings(m.outcomes)
    if not tokens or len(tokens) != len(outcomes) or len(set(tokens)) != len(tokens):
        return None
    gid = str(m.id)
    close = iso_ms(m.endDate)
    tags = sorted(_tags_of(m))
    activity = _num(m.volume24hr, None)
    title = m.question or ""
    slug = m.slug or ""
    event_slug = m.events[0].slug if m.events else None
    tick = tick_e6_of(m.orderPriceMinTickSize)  # the grid now; tick_size_change moves it
    info = MarketInfo(
        venue=VENUE,
        market_id=gid,
        title=title,
        outcome_ids=tokens,
        outcomes=outcomes,
        close_ts=close,
        status="active",
        tags=tags,
        slug=slug,
        activity=activity,
    )
    instruments = [
        Instrument(
            venue=VENUE,
            market_id=gid,
            instrument_id=token,
            poll_key=token,
            slug=slug,
            expiration=close,
            underlying=event_slug,
            title=title,
            outcome=outcome,
            rule=RULE,
            tags=tags,
            activity=activity,
            tick_e6=tick,
            raw=book_settings(m),
        )
        for token, outcome in zip(tokens, outcomes, strict=True)
    ]
    return info, instruments


def book_settings(m: GammaMarket) -> dict[str, Any] | None:
    """The market settings its books' hash covers (PROTOCOLS §1.4.1), kept in
    ``Instrument.raw``: Gamma's ``orderMinSize`` written as the CLOB writes
    ``min_order_size`` (shortest decimal: 5 -> "5") and ``negRisk``; None unless both."""
    if m.negRisk is None or m.orderMinSize is None or isinstance(m.orderMinSize, bool):
        return None
    try:
        size = parse_e6(str(m.orderMinSize))
    except (PmtapeError, ArithmeticError, ValueError):
        return None
    if size <= 0:
        return None
    return {RAW_MIN_ORDER_SIZE: format_e6(size), RAW_NEG_RISK: m.negRisk}


def json_strings(value: str | list[str] | None) -> list[str]:
    """Decode Gamma's JSON-encoded string arrays (``"[\\"Yes\\", \\"No\\"]"``); [] if bad."""
    if isinstance(value, list):
        items: Any = value
    elif isinstance(value, str) and value:
        try:
            items = json.loads(value)
        except ValueError:
            return []
    else:
        return []
    if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
        return []
    return list(items)


def iso_ms(text: str | None) -> int | None:
    """Parse a Gamma instant to epoch ms; a naive stamp or a bare date means UTC there."""
    return clock.iso_ms(text, naive_utc=True)


def _sticky(kept: _Kept) -> _Kept:
    insts = [msgspec.structs.replace(i, rule=RULE_STICKY) for i in kept.instruments]
    return _Kept(kept.market, insts, kept.raw, kept.last_seen_ms)


def _tags_of(m: GammaMarket) -> set[str]:
    out: set[str] = set()
    for tag in m.tags or ():
        for name in (tag.slug, tag.label):
            if name:
                out.add(name.lower())
    return out


def _slug_matches(m: GammaMarket, patterns: list[str]) -> bool:
    slugs = [s.lower() for s in (m.slug, *(e.slug for e in m.events or ())) if s]
    return any(fnmatch.fnmatchcase(s, p.lower()) for s in slugs for p in patterns)


def _num(primary: Any, fallback: Any) -> float:
    # Thresholds only (never prices): a float is fine; missing counts as zero.
    for value in (primary, fallback):
        if value is None or isinstance(value, bool):
            continue
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    return 0.0
