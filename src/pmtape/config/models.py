"""The configuration model: every key, its default and its bounds, in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from pmtape.proc.runner import EventLoopChoice  # stated once, where the loop is chosen


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VenueConfig(_Frozen):
    """Keys every venue has: scheduling, snapshot cadence, discovery cadence, credentials."""

    enabled: bool = Field(True, description="collect and discover this venue")
    max_subs: int = Field(200, ge=1, description="cap on HOT + WARM subscriptions")
    hot_count: int = Field(40, ge=0, description="instruments always subscribed")
    rotation_period_s: float = Field(180.0, gt=0, description="WARM rotation period")
    snapshot_interval_ms_hot: int = Field(
        2000, ge=10, description="snapshot cadence of a HOT book, in milliseconds"
    )
    snapshot_interval_ms_warm: int = Field(
        10000, ge=10, description="snapshot cadence of a WARM book, in milliseconds"
    )
    subscription_churn_limit_per_minute: int = Field(
        20, ge=1, description="subscribe + unsubscribe requests per minute at most"
    )
    discovery_interval_s: float = Field(60.0, gt=0, description="discover --loop cadence")
    stale_after_s: float = Field(
        600.0, ge=0, description="a book with no update for this long is 'stale' (0: never)"
    )
    audit_every_minutes: float = Field(
        0.0, ge=0, description="compare a sample of live books with REST this often (0: never)"
    )
    audit_sample: int = Field(20, ge=1, description="books per audit")
    # Credentials: set them through the environment (PMTAPE_VENUES__<NAME>__API_KEY, ...),
    # never in the file. They are redacted everywhere pmtape prints or stores config.
    api_key: SecretStr | None = Field(None, description="API key (environment only)")
    api_secret: SecretStr | None = Field(None, description="API secret (environment only)")

    @model_validator(mode="after")
    def _hot_within_max(self) -> VenueConfig:
        if self.hot_count > self.max_subs:
            raise ValueError(f"hot_count ({self.hot_count}) exceeds max_subs ({self.max_subs})")
        return self


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


class PolymarketVenueConfig(VenueConfig):
    """Polymarket: Gamma discovery, the CLOB market channel, REST books (PROTOCOLS.md §1).

    Off by default, so that a plain ``pmtape collect`` never reaches the internet; the URLs
    default to the real public API (no key needed) and point at a fake venue in tests.
    """

    enabled: bool = Field(
        False, description="collect and discover this venue (reaches the internet)"
    )
    gamma_url: str = Field(
        "https://gamma-api.polymarket.com", description="Gamma API: market and event discovery"
    )
    clob_url: str = Field("https://clob.polymarket.com", description="CLOB API: REST books")
    data_url: str = Field("https://data-api.polymarket.com", description="data API: trades")
    ws_url: str = Field(
        "wss://ws-subscriptions-clob.polymarket.com/ws/market", description="market channel"
    )
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
        default_factory=lambda: {
            "global": 15_000,
            "gamma": 4_000,
            "gamma_markets": 300,
            "gamma_events": 500,
            "gamma_listing": 900,
            "clob": 9_000,
            "clob_book": 1_500,
            "clob_books": 500,
            "data": 1_000,
        },
        description="requests per rate_window_s, per bucket (the documented limits)",
    )
    rate_window_s: float = Field(10.0, gt=0, description="window of the rate_limits buckets")
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


class KalshiVenueConfig(VenueConfig):
    """Kalshi: public REST discovery and books, the signed WebSocket (PROTOCOLS.md §2).

    Off by default. ``mode = "auto"`` streams the WebSocket when a key is configured (the
    key id from the environment, ``PMTAPE_VENUES__KALSHI__API_KEY_ID``, and the PEM private
    key from ``private_key_path``) and polls REST books otherwise.
    """

    enabled: bool = Field(
        False, description="collect and discover this venue (reaches the internet)"
    )
    rest_url: str = Field(
        "https://external-api.kalshi.com/trade-api/v2", description="REST API: discovery, books"
    )
    ws_url: str = Field(
        "wss://external-api-ws.kalshi.com/trade-api/ws/v2", description="signed WebSocket"
    )
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


class LimitlessVenueConfig(VenueConfig):
    """Limitless: active CLOB markets over REST, books polled or streamed (PROTOCOLS.md §3).

    Off by default. ``mode = "rest"`` polls ``/markets/{slug}/orderbook`` per market;
    ``mode = "ws"`` follows the Socket.IO market feed (a full book with every update).
    """

    enabled: bool = Field(
        False, description="collect and discover this venue (reaches the internet)"
    )
    rest_url: str = Field("https://api.limitless.exchange", description="REST API")
    ws_url: str = Field("wss://ws.limitless.exchange", description="Socket.IO feed")
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


class VenuesConfig(_Frozen):
    """One section per venue; each has the keys of every venue plus its own."""

    sim: SimVenueConfig = SimVenueConfig()
    polymarket: PolymarketVenueConfig = PolymarketVenueConfig()
    kalshi: KalshiVenueConfig = KalshiVenueConfig()
    limitless: LimitlessVenueConfig = LimitlessVenueConfig()


class WriterConfig(_Frozen):
    """The Parquet writer: buffering, file buckets, compression."""

    flush_rows: int = Field(50_000, ge=1, description="flush a venue's buffer at this many rows")
    flush_s: float = Field(5.0, gt=0, description="flush at least this often")
    bucket_minutes: int = Field(5, ge=1, le=60, description="file bucket length; divides 60")
    compression_level: int = Field(3, ge=1, le=22, description="zstd level")
    queue_max_batches: int = Field(1024, ge=1, description="writer queue bound (overflow counted)")

    @field_validator("bucket_minutes")
    @classmethod
    def _divides_hour(cls, v: int) -> int:
        if 60 % v:
            raise ValueError("must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)")
        return v


class CaptureConfig(_Frozen):
    """The raw capture every collector run writes (captures/RUN_ID/)."""

    enabled: bool = Field(True, description="record every frame and HTTP body (--no-capture)")
    flush_interval_s: float = Field(1.0, gt=0, le=60, description="a crash loses at most this")
    segment_max_mb: int = Field(1024, ge=1, description="rotate a shard's segment at this size")
    segment_max_s: float = Field(3600.0, gt=0, description="... or after this long")
    zstd_level: int = Field(1, ge=1, le=22, description="zstd level of capture blocks")


class CollectorConfig(_Frozen):
    """The live collector's loop: status lines, snapshot ticks, active-set polling."""

    log_interval_s: float = Field(10.0, gt=0, description="periodic status line")
    snapshot_tick_ms: int = Field(50, ge=1, description="snapshotter wake-up granularity")
    state_poll_s: float = Field(5.0, gt=0, description="how often the active snapshot is re-read")
    event_loop: EventLoopChoice = Field(
        "auto", description="event loop of `pmtape collect`: uvloop where installed (auto)"
    )


class MinerConfig(_Frozen):
    """`pmtape mine`: the printed rankings and the default range."""

    top_n: int = Field(10, ge=1, description="rows per ranking in the printed summary")
    lookback_hours: int = Field(24, ge=1, description="default range when none is given")


class Config(_Frozen):
    """All of pmtape's settings: defaults < TOML file < PMTAPE_* env < CLI flags."""

    data_dir: Path = Field(
        Path("data"), description="root of the archive (README: Where the files go)"
    )
    top_k: int = Field(50, ge=1, le=1000, description="levels kept per side in snapshots")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="lowest level of log lines written to stderr"
    )
    writer: WriterConfig = WriterConfig()
    collector: CollectorConfig = CollectorConfig()
    capture: CaptureConfig = CaptureConfig()
    miner: MinerConfig = MinerConfig()
    venues: VenuesConfig = VenuesConfig()

    def venue_names(self) -> list[str]:
        """Return the enabled venues, in declaration order."""
        return [name for name in type(self.venues).model_fields if self.venue(name).enabled]

    def venue(self, name: str) -> VenueConfig:
        """Return one venue's section."""
        section = getattr(self.venues, name, None)
        if not isinstance(section, VenueConfig):
            raise KeyError(name)
        return section
