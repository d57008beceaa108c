"""Limitless: active CLOB markets, order books polled over REST or fed over Socket.IO (§3).

One instrument per CLOB market (``instrument_id = "BOOK"``, market id and poll key the
slug). ``mode = "rest"`` (the default) polls ``/markets/{slug}/orderbook`` per market with
per-market backoff, fetching each market object once first so that the normalizer can key
the books (they name only their YES token); ``mode = "ws"`` follows the Socket.IO feed,
whose every update is a complete book. One normalizer serves both, and ``fetch_books`` the
collector's REST audit.
"""

from __future__ import annotations

from collections.abc import Sequence

from pmtape.net.backoff import Backoff
from pmtape.net.http import Cooldown, HttpClient
from pmtape.net.ratelimit import RateLimiter
from pmtape.net.restpoll import PollSettings, RestPollSession
from pmtape.net.session import HttpMeta, VenueSession
from pmtape.net.wsengine import WsSettings
from pmtape.venues.base import DiscoveryResult, FakeCommand, LocalFake, Normalizer, VenueAdapter
from pmtape.venues.limitless.constants import (
    MAX_FRAME_BYTES,
    STREAM_REST,
    STREAM_WS,
    VENUE,
    WS_BACKOFF_RESET_S,
)
from pmtape.venues.limitless.discovery import LimitlessDiscovery
from pmtape.venues.limitless.normalize import LimitlessNormalizer
from pmtape.venues.limitless.rest import Body, LimitlessRest
from pmtape.venues.limitless.settings import LimitlessVenueConfig
from pmtape.venues.limitless.ws import LimitlessFeedSession, engineio_url


class LimitlessAdapter(VenueAdapter):
    """Limitless, built from its ``[venues.limitless]`` config section."""

    name = VENUE

    config: LimitlessVenueConfig
    supports_rest_books = True

    @classmethod
    def fake_command(cls) -> FakeCommand:
        """Return `pmtape fake-venue limitless` as data: this venue's fake as a server."""
        from pmtape.venues.limitless.fake.faults import COMMAND  # the knobs, lazily

        return COMMAND

    @classmethod
    def local_fake(cls) -> LocalFake:
        """Return a modest fake Limitless (60 markets, 300 msgs/s) for the demo."""
        from pmtape.venues.limitless.fake.server import FakeLimitless  # the server stack, lazily

        return FakeLimitless(markets=60, seed=7, rate=300.0)

    def __init__(self, config: LimitlessVenueConfig | None = None) -> None:
        cfg = config if config is not None else LimitlessVenueConfig.model_validate({})
        super().__init__(cfg)
        # Buckets and cooldown are the venue's own, shared by every client it opens and by
        # no other venue: a Limitless outage never slows anyone else down.
        self.limiter = RateLimiter(cfg.rate_limits, cfg.rate_window_s)
        backoff = Backoff(cfg.cooldown_base_s, cfg.cooldown_max_s, reset_after_s=0.0)
        self.cooldown = Cooldown(backoff)
        self.discovery = LimitlessDiscovery(cfg)

    def http_client(self) -> HttpClient:
        """Return a new HTTP client sharing this venue's buckets and cooldown."""
        timeout_s = self.config.http_timeout_s
        return HttpClient(VENUE, timeout_s=timeout_s, limiter=self.limiter, cooldown=self.cooldown)

    def rest(self, http: HttpClient) -> LimitlessRest:
        """Return the REST endpoints of this deployment over ``http``."""
        return LimitlessRest(http, rest_url=self.config.rest_url)

    async def discover(self, now_ms: int) -> DiscoveryResult:
        """Return the funded, unexpired CLOB markets that pass the configured rules."""
        async with self.http_client() as http:
            return await self.discovery.discover(self.rest(http), now_ms)

    def new_session(self) -> VenueSession:
        """Return a REST poller (mode "rest") or the Socket.IO feed (mode "ws")."""
        cfg = self.config
        if cfg.mode == "ws":
            settings = WsSettings(
                url=engineio_url(cfg.ws_url),
                stream=STREAM_WS,
                max_keys_per_conn=cfg.markets_per_connection,
                subscribe_interval_s=cfg.subscribe_interval_s,
                connect_timeout_s=cfg.connect_timeout_s,
                backoff_base_s=cfg.reconnect_backoff_base_s,
                backoff_max_s=cfg.reconnect_backoff_max_s,
                backoff_reset_s=WS_BACKOFF_RESET_S,
                max_frame_bytes=MAX_FRAME_BYTES,
            )
            return LimitlessFeedSession(settings, namespace=cfg.ws_namespace)
        http = self.http_client()
        rest = self.rest(http)
        primed: set[str] = set()

        async def fetch(keys: Sequence[str]) -> list[Body]:
            return await rest.fetch_books(keys, primed)

        settings_rest = PollSettings(
            stream=STREAM_REST,
            interval_s=cfg.poll_interval_s,
            batch_size=1,
            concurrency=cfg.poll_concurrency,
        )
        return RestPollSession(fetch, settings_rest, cooldown=self.cooldown, on_close=http.aclose)

    def new_normalizer(self) -> Normalizer:
        """Return a fresh normalizer (Socket.IO frames and REST bodies alike)."""
        return LimitlessNormalizer()

    async def fetch_books(self, poll_keys: Sequence[str]) -> list[tuple[bytes, int, HttpMeta]]:
        """Fetch full books over REST, each after its market object (unknown slugs skipped)."""
        async with self.http_client() as http:
            return await self.rest(http).fetch_books(list(poll_keys), set(), skip_missing=True)
