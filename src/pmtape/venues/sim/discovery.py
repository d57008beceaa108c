"""What the sim venue lists at an instant: markets, their two token books, the raw listing."""

from __future__ import annotations

from typing import Any

from pmtape.core.fixed import format_e6
from pmtape.core.instrument import Instrument, MarketInfo
from pmtape.venues.base import DiscoveryResult
from pmtape.venues.sim.constants import ANCHOR_MS, RULE, VENUE
from pmtape.venues.sim.settings import SimVenueConfig
from pmtape.venues.sim.universe import SimMarket, SimUniverse


def universe_for(config: SimVenueConfig) -> SimUniverse:
    """Build the universe a config describes (the same in every process)."""
    return SimUniverse(
        seed=config.seed,
        markets=config.markets,
        rolling_share=config.rolling_share,
        rolling_period_s=config.rolling_period_s,
        anchor_ms=ANCHOR_MS,
    )


def discover_sim(
    config: SimVenueConfig, now_ms: int, universe: SimUniverse | None = None
) -> DiscoveryResult:
    """Return the sim markets open at ``now_ms`` with one instrument per outcome token."""
    active = (universe or universe_for(config)).active_at(now_ms)
    return DiscoveryResult(
        markets=[market_info(m) for m in active],
        instruments=[inst for m in active for inst in instruments_of(m)],
        raw=[rest_market(m) for m in active],
    )


def market_info(market: SimMarket) -> MarketInfo:
    """Return a sim market as a discovery market line."""
    return MarketInfo(
        venue=VENUE,
        market_id=market.market_id,
        title=market.title,
        outcome_ids=list(market.token_ids),
        outcomes=list(market.outcomes),
        close_ts=market.close_ts,
        status="active",
        tags=list(market.tags),
        slug=market.slug,
        activity=market.activity,
    )


def instruments_of(market: SimMarket) -> list[Instrument]:
    """Return the two books of a market, keyed by token id."""
    return [
        Instrument(
            venue=VENUE,
            market_id=market.market_id,
            instrument_id=token,
            poll_key=token,
            slug=market.slug,
            expiration=market.close_ts,
            underlying=market.series,
            title=market.title,
            outcome=outcome,
            rule=RULE,
            tags=list(market.tags),
            activity=market.activity,
            tick_e6=market.tick_e6,
        )
        for token, outcome in zip(market.token_ids, market.outcomes, strict=True)
    ]


def rest_market(market: SimMarket) -> dict[str, Any]:
    """Return a market as the sim REST listing would serve it."""
    return {
        "id": market.market_id,
        "question": market.title,
        "slug": market.slug,
        "series": market.series,
        "tags": list(market.tags),
        "active": True,
        "closed": False,
        "open_ts": market.open_ts,
        "close_ts": market.close_ts,
        "tick_size": format_e6(market.tick_e6),
        "activity": market.activity,
        "tokens": [
            {"token_id": token, "outcome": outcome}
            for token, outcome in zip(market.token_ids, market.outcomes, strict=True)
        ],
    }
