"""The venue's settings: its ``[venues.limitless]`` section, with defaults from its constants."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pmtape.venues.limitless.constants import REST_URL, WS_URL
from pmtape.venues.settings import VenueConfig


class LimitlessVenueConfig(VenueConfig):
    """Limitless: active CLOB markets over REST, books polled or streamed (PROTOCOLS.md §3).

    Off by default. ``mode = "rest"`` polls ``/markets/{slug}/orderbook`` per market;
    ``mode = "ws"`` follows the Socket.IO market feed (a full book with every update).
    """

    enabled: bool = Field(
        False, description="collect and discover this venue (reaches the internet)"
    )
    rest_url: str = Field(REST_URL, description="REST API")
    ws_url: str = Field(WS_URL, description="Socket.IO feed")
    ws_namespace: str = Field("/markets", description="Socket.IO namespace of the market feed")
    mode: Literal["rest", "ws"] = Field("rest", description="poll REST books or stream the feed")
    # -- discovery
    underlyings: list[str] = Field(
        default_factory=list, description="keep markets on these assets, e.g. btc, eth"
    )
    categories: list[str] = Field(
        default_factory=list, description="keep markets in any of these categories"
    )
    max_markets: int = Field(2000, ge=1, description="keep at most this many markets")
    discovery_page_size: int = Field(
        25, ge=1, le=25, description="markets per page (the venue allows 25)"
    )
    discovery_max_pages: int = Field(200, ge=1, description="stop discovery after this many pages")
    # -- REST
    poll_interval_s: float = Field(2.0, gt=0, description="REST polling cycle")
    poll_concurrency: int = Field(4, ge=1, le=64, description="REST requests in flight")
    cooldown_base_s: float = Field(
        1.0, gt=0, description="venue pause after a 429/5xx without Retry-After: doubling"
    )
    cooldown_max_s: float = Field(60.0, gt=0, description="venue pause cap")
    http_timeout_s: float = Field(10.0, gt=0, description="timeout of one HTTP request")
    rate_limits: dict[str, int] = Field(
        default_factory=lambda: {"global": 10, "discovery": 1},
        description="requests per rate_window_s (none published; 1/s for discovery)",
    )
    rate_window_s: float = Field(1.0, gt=0, description="window of the rate_limits buckets")
    # -- Socket.IO feed
    markets_per_connection: int = Field(200, ge=1, description="markets per socket")
    subscribe_interval_s: float = Field(
        0.5, ge=0, description="at most one subscription command per socket this often"
    )
    connect_timeout_s: float = Field(10.0, gt=0, description="Socket.IO connect timeout")
    reconnect_backoff_base_s: float = Field(
        0.5, gt=0, description="first reconnect delay; doubles per failure, with full jitter"
    )
    reconnect_backoff_max_s: float = Field(60.0, gt=0, description="reconnect delay cap")

    @model_validator(mode="after")
    def _backoff_order(self) -> LimitlessVenueConfig:
        if self.reconnect_backoff_max_s < self.reconnect_backoff_base_s:
            raise ValueError("reconnect_backoff_max_s is below reconnect_backoff_base_s")
        if self.cooldown_max_s < self.cooldown_base_s:
            raise ValueError("cooldown_max_s is below cooldown_base_s")
        return self
