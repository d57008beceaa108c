"""Polymarket: Gamma discovery, the CLOB market channel, CLOB REST books (PROTOCOLS.md §1).

``mode = "ws"`` streams the market channel over sharded sockets; ``mode = "rest"`` polls
``/books`` (or ``/book`` per token). Either way the same normalizer turns what arrives into
canonical events keyed by token id, and ``fetch_books`` serves the collector's REST audit.
"""

from __future__ import annotations

from collections.abc import Sequence

from pmtape.core.events import MarketStatus
from pmtape.core.instrument import Instrument
from pmtape.net.backoff import Backoff
from pmtape.net.http import Cooldown, HttpClient
from pmtape.net.ratelimit import RateLimiter
from pmtape.net.restpoll import PollSettings, RestPollSession
from pmtape.net.session import HttpMeta, VenueSession
from pmtape.net.wsengine import WsSettings
from pmtape.venues.base import DiscoveryResult, FakeCommand, LocalFake, Normalizer, VenueAdapter
from pmtape.venues.polymarket.constants import MAX_FRAME_BYTES, STREAM_REST, STREAM_WS, VENUE
from pmtape.venues.polymarket.discovery import GammaDiscovery
from pmtape.venues.polymarket.normalize import PolymarketNormalizer
from pmtape.venues.polymarket.rest import PolymarketRest
from pmtape.venues.polymarket.settings import PolymarketVenueConfig
from pmtape.venues.polymarket.ws import MarketChannelSession


class PolymarketAdapter(VenueAdapter):
    """Polymarket, built from its ``[venues.polymarket]`` config section."""

    name = VENUE

    config: PolymarketVenueConfig
    supports_rest_books = True

    def __init__(self, config: PolymarketVenueConfig | None = None) -> None:
        cfg = config if config is not None else PolymarketVenueConfig.model_validate({})
        super().__init__(cfg)
        # Buckets and cooldown are the venue's, shared by every client this adapter opens.
        self.limiter = RateLimiter(cfg.rate_limits, cfg.rate_window_s)
        self.cooldown = Cooldown(Backoff(1.0, 60.0, reset_after_s=0.0))
        self.discovery = GammaDiscovery(cfg)

    @classmethod
    def fake_command(cls) -> FakeCommand:
        """Return `pmtape fake-venue polymarket` as data: this venue's fake as a server."""
        from pmtape.venues.polymarket.fake.faults import COMMAND  # the knobs, lazily

        return COMMAND

    @classmethod
    def local_fake(cls) -> LocalFake:
        """Return a modest fake Polymarket (100 markets, 500 msgs/s) for the demo."""
        from pmtape.venues.polymarket.fake.server import FakePolymarket  # the server stack, lazily

        return FakePolymarket(markets=100, seed=7, rate=500.0, rolling_share=0.05)

    def http_client(self) -> HttpClient:
        """Return a new HTTP client sharing this venue's buckets and cooldown."""
        return HttpClient(
            VENUE,
            timeout_s=self.config.http_timeout_s,
            limiter=self.limiter,
            cooldown=self.cooldown,
        )

    def rest(self, http: HttpClient) -> PolymarketRest:
        """Return the REST endpoints of this deployment over ``http``."""
        return PolymarketRest(http, gamma_url=self.config.gamma_url, clob_url=self.config.clob_url)

    async def discover(self, now_ms: int) -> DiscoveryResult:
        """Return the Gamma markets active at ``now_ms`` that pass the configured rules."""
        async with self.http_client() as http:
            return await self.discovery.discover(self.rest(http), now_ms)

    def instruments_for(self, status: MarketStatus) -> list[Instrument]:
        """Return the tokens of a market the channel announced with ``new_market``."""
        return self.discovery.instruments_from_status(status)

    def new_session(self) -> VenueSession:
        """Return a market-channel session (mode "ws") or a REST poller (mode "rest")."""
        cfg = self.config
        if cfg.mode == "rest":
            return self._rest_session()
        settings = WsSettings(
            url=cfg.ws_url,
            stream=STREAM_WS,
            max_keys_per_conn=cfg.assets_per_connection,
            keepalive_s=cfg.ping_interval_s,
            data_silence_s=cfg.data_silence_s,
            backoff_base_s=cfg.reconnect_backoff_base_s,
            backoff_max_s=cfg.reconnect_backoff_max_s,
            max_frame_bytes=MAX_FRAME_BYTES,
            dynamic_subscribe=cfg.dynamic_subscribe,
        )
        return MarketChannelSession(settings, asset_silence_s=cfg.asset_silence_s)

    def _rest_session(self) -> RestPollSession:
        cfg = self.config
        http = self.http_client()
        rest = self.rest(http)

        async def fetch(keys: Sequence[str]) -> list[tuple[bytes, int, HttpMeta]]:
            return await rest.fetch_books(keys, batch=cfg.rest_batch)

        settings = PollSettings(
            stream=STREAM_REST,
            interval_s=cfg.poll_interval_s,
            batch_size=cfg.rest_batch_size if cfg.rest_batch else 1,
            concurrency=cfg.poll_concurrency,
        )
        return RestPollSession(fetch, settings, cooldown=self.cooldown, on_close=http.aclose)

    def new_normalizer(self) -> Normalizer:
        """Return a fresh normalizer (frames and REST book bodies alike)."""
        return PolymarketNormalizer()

    async def fetch_books(self, poll_keys: Sequence[str]) -> list[tuple[bytes, int, HttpMeta]]:
        """Fetch full books over REST (skipping tokens the venue has no book for)."""
        async with self.http_client() as http:
            return await self.rest(http).fetch_books(
                list(poll_keys), batch=self.config.rest_batch, skip_missing=True
            )
