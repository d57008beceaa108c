"""The venue's settings: its ``[venues.kalshi]`` section, with defaults from its constants."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from pmtape.venues.kalshi.constants import REST_URL, WS_URL
from pmtape.venues.settings import VenueConfig


class KalshiVenueConfig(VenueConfig):
    """Kalshi: public REST discovery and books, the signed WebSocket (PROTOCOLS.md §2).

    Off by default. ``mode = "auto"`` streams the WebSocket when a key is configured (the
    key id from the environment, ``PMTAPE_VENUES__KALSHI__API_KEY_ID``, and the PEM private
    key from ``private_key_path``) and polls REST books otherwise.
    """

    enabled: bool = Field(
        False, description="collect and discover this venue (reaches the internet)"
    )
    rest_url: str = Field(REST_URL, description="REST API: discovery, books")
    ws_url: str = Field(WS_URL, description="signed WebSocket")
    api_key_id: SecretStr | None = Field(
        None, description="API key id for the signed WebSocket (environment only)"
    )
    private_key_path: Path | None = Field(
        None, description="PEM file of the RSA private key that signs the WebSocket handshake"
    )
    mode: Literal["auto", "ws", "rest"] = Field(
        "auto", description="auto: WebSocket when a key is configured, else REST polling"
    )
    trades: bool = Field(True, description="record trades (WS trade channel / REST trade list)")
    # -- WebSocket
    markets_per_connection: int = Field(500, ge=1, description="markets per socket")
    markets_per_subscription: int = Field(
        100, ge=1, le=1000, description="markets per subscribe command (one sid each)"
    )
    heartbeat_s: float = Field(20.0, gt=0, description="client ping cadence; no pong: reconnect")
    reconnect_backoff_base_s: float = Field(
        0.5, gt=0, description="first reconnect delay; doubles per failure, with full jitter"
    )
    reconnect_backoff_max_s: float = Field(60.0, gt=0, description="reconnect delay cap")
    auth_retry_s: float = Field(
        900.0, gt=0, description="wait this long after the venue refused our key"
    )
    # -- REST
    poll_interval_s: float = Field(2.0, gt=0, description="REST polling cycle")
    rest_batch_size: int = Field(
        100, ge=1, le=100, description="tickers per GET /markets/orderbooks"
    )
    cooldown_base_s: float = Field(
        1.0, gt=0, description="venue pause after a 429/5xx (no Retry-After): doubling from here"
    )
    cooldown_max_s: float = Field(60.0, gt=0, description="venue pause cap")
    poll_concurrency: int = Field(2, ge=1, le=64, description="REST requests in flight")
    orderbook_depth: int = Field(0, ge=0, le=100, description="levels per side (0: all)")
    http_timeout_s: float = Field(10.0, gt=0, description="timeout of one HTTP request")
    rate_limits: dict[str, int] = Field(
        default_factory=lambda: {"read": 20},
        description="requests per rate_window_s (Basic tier: 200 read tokens/s, 10 a request)",
    )
    rate_window_s: float = Field(1.0, gt=0, description="window of the rate_limits buckets")
    # -- discovery
    categories: list[str] = Field(
        default_factory=list, description="keep markets of events in these categories"
    )
    series: list[str] = Field(default_factory=list, description="keep these series tickers")
    min_volume_24h: float = Field(
        0.0, ge=0, description="keep markets with at least this 24 h volume"
    )
    max_markets: int = Field(2000, ge=1, description="keep at most this many markets")
    discovery_page_size: int = Field(1000, ge=1, le=1000, description="markets per page")
    discovery_max_pages: int = Field(100, ge=1, description="stop discovery after this many pages")

    @model_validator(mode="after")
    def _backoff_order(self) -> KalshiVenueConfig:
        if self.reconnect_backoff_max_s < self.reconnect_backoff_base_s:
            raise ValueError("reconnect_backoff_max_s is below reconnect_backoff_base_s")
        if self.cooldown_max_s < self.cooldown_base_s:
            raise ValueError("cooldown_max_s is below cooldown_base_s")
        return self
