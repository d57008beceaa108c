"""Kalshi: public REST discovery and books, the signed WebSocket (PROTOCOLS.md §2).

One instrument per market: the ticker's YES book (``instrument_id = "YES"``, poll key the
ticker). ``mode = "auto"`` streams ``orderbook_delta`` (and ``trade``) over the WebSocket
when a key is configured — the key id from ``PMTAPE_VENUES__KALSHI__API_KEY_ID``, the PEM
private key from ``private_key_path`` — and polls ``GET /markets/orderbooks`` (plus the
recent ``/markets/trades``) otherwise. Either way one normalizer turns what arrives into
YES-book events, and ``fetch_books`` serves the collector's REST audit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pmtape.core.clock import mono_s, now_ms
from pmtape.core.errors import ConfigError, VenueError
from pmtape.core.events import MarketStatus
from pmtape.core.instrument import Instrument
from pmtape.net.backoff import Backoff
from pmtape.net.http import Cooldown, HttpClient, classify
from pmtape.net.ratelimit import RateLimiter
from pmtape.net.restpoll import PollSettings, RestPollSession
from pmtape.net.session import HttpMeta, VenueSession
from pmtape.net.wsengine import WsSettings
from pmtape.venues.base import DiscoveryResult, FakeCommand, LocalFake, Normalizer, VenueAdapter
from pmtape.venues.kalshi.auth import KalshiSigner
from pmtape.venues.kalshi.constants import (
    MAX_FRAME_BYTES,
    STREAM_REST,
    STREAM_WS,
    TRADES_PAGE_MAX,
    VENUE,
    WS_BACKOFF_RESET_S,
)
from pmtape.venues.kalshi.discovery import KalshiDiscovery
from pmtape.venues.kalshi.normalize import KalshiNormalizer
from pmtape.venues.kalshi.rest import Body, KalshiRest
from pmtape.venues.kalshi.settings import KalshiVenueConfig
from pmtape.venues.kalshi.ws import KalshiWsSession

_TRADES_OVERLAP_S = 5
"""Each REST trade poll reaches this far behind the previous one (seconds)."""


class KalshiAdapter(VenueAdapter):
    """Kalshi, built from its ``[venues.kalshi]`` config section."""

    name = VENUE

    config: KalshiVenueConfig
    supports_rest_books = True

    @classmethod
    def fake_command(cls) -> FakeCommand:
        """Return `pmtape fake-venue kalshi` as data: this venue's fake as a server."""
        from pmtape.venues.kalshi.fake.faults import COMMAND  # the knobs, lazily

        return COMMAND

    @classmethod
    def local_fake(cls) -> LocalFake:
        """Return a modest fake Kalshi (60 markets, 300 msgs/s) for the demo."""
        from pmtape.venues.kalshi.fake.server import FakeKalshi  # the server stack, lazily

        return FakeKalshi(markets=60, seed=7, rate=300.0)

    def __init__(self, config: KalshiVenueConfig | None = None) -> None:
        cfg = config if config is not None else KalshiVenueConfig.model_validate({})
        super().__init__(cfg)
        # Buckets and cooldown are the venue's own, shared by every client it opens and by
        # no other venue: a Kalshi outage never slows anyone else down.
        self.limiter = RateLimiter(cfg.rate_limits, cfg.rate_window_s)
        backoff = Backoff(cfg.cooldown_base_s, cfg.cooldown_max_s, reset_after_s=0.0)
        self.cooldown = Cooldown(backoff)
        self.discovery = KalshiDiscovery(cfg)
        self.stats: Counter[str] = Counter()

    @property
    def mode(self) -> str:
        """Return the session kind new_session builds: "ws" or "rest"."""
        cfg = self.config
        if cfg.mode != "auto":
            return cfg.mode
        return "ws" if cfg.api_key_id is not None and cfg.private_key_path is not None else "rest"

    def http_client(self) -> HttpClient:
        """Return a new HTTP client sharing this venue's buckets and cooldown."""
        timeout_s = self.config.http_timeout_s
        return HttpClient(VENUE, timeout_s=timeout_s, limiter=self.limiter, cooldown=self.cooldown)

    def rest(self, http: HttpClient) -> KalshiRest:
        """Return the REST endpoints of this deployment over ``http``."""
        return KalshiRest(http, rest_url=self.config.rest_url)

    def signer(self) -> KalshiSigner:
        """Return the request signer of the configured key (ConfigError if there is none)."""
        cfg = self.config
        if cfg.api_key_id is None or cfg.private_key_path is None:
            raise ConfigError(
                "venues.kalshi: the WebSocket needs api_key_id (env "
                "PMTAPE_VENUES__KALSHI__API_KEY_ID) and private_key_path"
            )
        return KalshiSigner.from_files(cfg.api_key_id.get_secret_value(), cfg.private_key_path)

    async def discover(self, now_ms: int) -> DiscoveryResult:
        """Return the open markets that pass the configured rules, busiest first."""
        async with self.http_client() as http:
            return await self.discovery.discover(self.rest(http), now_ms)

    def new_session(self) -> VenueSession:
        """Return the signed WebSocket session (mode "ws") or a REST poller (mode "rest")."""
        if self.mode == "rest":
            return self._rest_session()
        cfg = self.config
        settings = WsSettings(
            url=cfg.ws_url,
            stream=STREAM_WS,
            max_keys_per_conn=cfg.markets_per_connection,
            heartbeat_s=cfg.heartbeat_s,
            data_silence_s=0.0,  # quiet tickers are normal; the heartbeat finds dead sockets
            connect_timeout_s=cfg.http_timeout_s,
            backoff_base_s=cfg.reconnect_backoff_base_s,
            backoff_max_s=cfg.reconnect_backoff_max_s,
            backoff_reset_s=WS_BACKOFF_RESET_S,
            max_frame_bytes=MAX_FRAME_BYTES,
        )
        return KalshiWsSession(
            settings,
            self.signer(),
            markets_per_subscription=cfg.markets_per_subscription,
            trades=cfg.trades,
            auth_retry_s=cfg.auth_retry_s,
        )

    def _rest_session(self) -> RestPollSession:
        cfg = self.config
        http = self.http_client()
        rest = self.rest(http)
        trades = _TradeWindow(rest, cfg.poll_interval_s, self.stats) if cfg.trades else None

        async def fetch(keys: Sequence[str]) -> list[Body]:
            bodies = await rest.fetch_books(list(keys), depth=cfg.orderbook_depth)
            if trades is not None:
                bodies += await trades.poll()
            return bodies

        settings = PollSettings(
            stream=STREAM_REST,
            interval_s=cfg.poll_interval_s,
            batch_size=cfg.rest_batch_size,
            concurrency=cfg.poll_concurrency,
        )
        return RestPollSession(fetch, settings, cooldown=self.cooldown, on_close=http.aclose)

    def instruments_for(self, status: MarketStatus) -> list[Instrument]:
        """Return the YES book of a market ``market_lifecycle_v2`` announced."""
        return self.discovery.instruments_from_status(status)

    def new_normalizer(self) -> Normalizer:
        """Return a fresh normalizer (WebSocket frames and REST bodies alike)."""
        return KalshiNormalizer()

    async def fetch_books(self, poll_keys: Sequence[str]) -> list[tuple[bytes, int, HttpMeta]]:
        """Fetch full books over REST (tickers the venue does not know are left out)."""
        async with self.http_client() as http:
            rest = self.rest(http)
            depth = self.config.orderbook_depth
            return await rest.fetch_books(list(poll_keys), depth=depth, skip_missing=True)


class _TradeWindow:
    """The REST poller's trades: the newest page since shortly before the last poll.

    Polled at most once per ``interval_s`` whatever the number of book batches. Each poll
    reaches ``_TRADES_OVERLAP_S`` behind the previous one (``min_ts`` is in whole seconds);
    the normalizer drops the repeats by trade id. A failure about the request itself must
    not back off the book keys it rode along with, so it is counted; venue-wide trouble
    (429, 5xx, timeouts) propagates to the poller's cooldown.
    """

    def __init__(self, rest: KalshiRest, interval_s: float, stats: Counter[str]) -> None:
        self.rest = rest
        self.interval_s = interval_s
        self.stats = stats
        self.last_poll = float("-inf")
        self.min_ts_s = now_ms() // 1000 - _TRADES_OVERLAP_S

    async def poll(self) -> list[Body]:
        """Return the trades body when one is due, else nothing."""
        if mono_s() - self.last_poll < self.interval_s:
            return []
        self.last_poll = mono_s()
        started_s = now_ms() // 1000
        params = {"min_ts": self.min_ts_s, "limit": TRADES_PAGE_MAX}
        try:
            body = await self.rest.get_trades(params)
        except VenueError as exc:
            if classify(exc) == "retry":
                raise
            self.stats["trade_poll_errors"] += 1
            return []
        self.min_ts_s = started_s - _TRADES_OVERLAP_S
        self.stats["trade_polls"] += 1
        return [body]
