"""The venue's settings: its ``[venues.polymarket]`` section, with defaults from its constants."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pmtape.venues.polymarket.constants import (
    CLOB_URL,
    DATA_URL,
    GAMMA_URL,
    LIMIT_WINDOW_S,
    LIMITS,
    WS_URL,
)
from pmtape.venues.settings import VenueConfig


class PolymarketVenueConfig(VenueConfig):
    """Polymarket: Gamma discovery, the CLOB market channel, REST books (PROTOCOLS.md §1).

    Off by default, so that a plain ``pmtape collect`` never reaches the internet; the URLs
    default to the real public API (no key needed) and point at a fake venue in tests.
    """

    enabled: bool = Field(
        False, description="collect and discover this venue (reaches the internet)"
    )
    gamma_url: str = Field(GAMMA_URL, description="Gamma API: market and event discovery")
    clob_url: str = Field(CLOB_URL, description="CLOB API: REST books")
    data_url: str = Field(DATA_URL, description="data API: trades")
    ws_url: str = Field(WS_URL, description="market channel")
    mode: Literal["ws", "rest"] = Field("ws", description="stream the market channel or poll REST")
    # -- market channel
    assets_per_connection: int = Field(
        200, ge=1, le=500, description="assets per socket (the venue goes silent past ~500)"
    )
    ping_interval_s: float = Field(10.0, gt=0, description="text PING cadence")
    data_silence_s: float = Field(
        120.0, ge=0, description="reconnect a socket with no data frame for this long (0: never)"
    )
    asset_silence_s: float = Field(
        300.0,
        ge=0,
        description="resync an asset silent this long while its market moves (0: never)",
    )
    reconnect_backoff_base_s: float = Field(
        0.5, gt=0, description="first reconnect delay; doubles per failure, with full jitter"
    )
    reconnect_backoff_max_s: float = Field(60.0, gt=0, description="reconnect delay cap")
    dynamic_subscribe: bool = Field(
        True, description="add/remove assets on the open socket (false: reconnect with new set)"
    )
    # -- REST
    rest_batch: bool = Field(True, description="poll with POST /books batches, else GET /book")
    rest_batch_size: int = Field(100, ge=1, le=500, description="assets per POST /books")
    poll_interval_s: float = Field(2.0, gt=0, description="REST polling cycle")
    poll_concurrency: int = Field(4, ge=1, le=64, description="REST requests in flight")
    http_timeout_s: float = Field(10.0, gt=0, description="timeout of one HTTP request")
    audit_every_minutes: float = Field(
        10.0, ge=0, description="compare a sample of WS books with REST this often (0: never)"
    )
    audit_sample: int = Field(20, ge=1, description="books per audit")
    rate_limits: dict[str, int] = Field(
        default_factory=lambda: dict(LIMITS),
        description="requests per rate_window_s, per bucket (the documented limits)",
    )
    rate_window_s: float = Field(
        LIMIT_WINDOW_S, gt=0, description="window of the rate_limits buckets"
    )
    # -- discovery
    tags: list[str] = Field(default_factory=list, description="keep markets with any of these")
    slug_patterns: list[str] = Field(
        default_factory=list,
        description="keep markets whose slug matches a glob, e.g. btc-updown-15m-*",
    )
    min_liquidity: float = Field(0.0, ge=0, description="keep markets with at least this liquidity")
    min_volume: float = Field(0.0, ge=0, description="keep markets with at least this volume")
    max_markets: int = Field(
        2000, ge=1, description="keep at most this many markets (by 24 h volume)"
    )
    discovery_page_size: int = Field(100, ge=1, le=100, description="markets per Gamma page")
    discovery_max_pages: int = Field(200, ge=1, description="stop discovery after this many pages")
    active_set: Literal["strict", "sticky"] = Field(
        "strict", description="strict: replace each run; sticky: keep unseen markets a while"
    )
    sticky_grace_s: float = Field(
        3600.0, ge=0, description="sticky: keep a market unseen by discovery this long"
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> PolymarketVenueConfig:
        if self.reconnect_backoff_max_s < self.reconnect_backoff_base_s:
            raise ValueError("reconnect_backoff_max_s is below reconnect_backoff_base_s")
        return self
