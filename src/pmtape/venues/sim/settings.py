"""The ``sim`` venue's settings: its ``[venues.sim]`` section, defaults from its constants."""

from __future__ import annotations

from pydantic import Field

from pmtape.venues.settings import VenueConfig


class SimVenueConfig(VenueConfig):
    """The built-in synthetic venue: deterministic from ``seed``."""

    markets: int = Field(500, ge=1, le=200_000, description="binary markets (2 books each)")
    updates_per_sec: float = Field(2000.0, gt=0, le=1_000_000, description="mean message rate")
    trade_ratio: float = Field(0.05, ge=0, le=1, description="share of messages that are trades")
    seed: int = Field(7, description="random seed: the same seed gives the same markets and flow")
    rolling_share: float = Field(
        0.05, ge=0, le=1, description="share of markets in short rolling series (close and reopen)"
    )
    rolling_period_s: int = Field(900, ge=60, description="lifetime of a rolling-series market")
