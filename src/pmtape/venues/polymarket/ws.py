"""The CLOB market channel over the shared sharded engine, plus a per-asset silence watchdog.

The protocol (§1.6.1-1.6.2): the first frame names the shard's tokens with ``initial_dump``
and ``custom_feature_enabled``; tokens are added and removed on the open socket with
``operation`` frames (the engine reconnects with the new set if that is switched off);
the keepalive is the text ``PING`` answered by ``PONG``.

The per-asset watchdog (§1.6.8): a token can go quiet on an otherwise healthy socket. The
session reads how far each token's book has come from the sink that keeps the books
(``BookWatch``; no frame is decoded a second time) and asks for a fresh book of a token
that has had no update for ``asset_silence_s`` while another token of its market kept
moving. A token that never got its first book (a dynamic subscribe the venue ignored, a
lost dump) has its socket reconnected once, since the initial dump on connect is what the
venue delivers reliably. A sink that keeps no books gets no per-asset watchdog; the
engine's per-connection silence watchdog runs either way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import msgspec

from pmtape.core.clock import mono_s
from pmtape.net.session import BookWatch, FrameSink, VenueSession
from pmtape.net.wsengine import ShardedWsSession, WsSettings
from pmtape.net.wsproto import FrameAction, WsProtocol
from pmtape.venues.polymarket.constants import OP_SUBSCRIBE, OP_UNSUBSCRIBE, PING, PONG
from pmtape.venues.polymarket.messages import MarketSubscription, SubscriptionUpdate

_encode = msgspec.json.Encoder().encode
_SUBSCRIBE_CHUNK = 500
FIRST_BOOK_S = 30.0
"""A token with no book this long after subscribing gets its socket reconnected."""
_PONG = FrameAction(deliver=False, live=False, count="keepalive_replies")
"""The reply to our ``PING``: the socket lives, but this is no data (not a silence breaker)."""


class MarketChannelProtocol(WsProtocol):
    """Subscription frames and keepalive of the market channel (stateless: one for all)."""

    ping_frame = PING

    def open_frames(self, keys: Sequence[str]) -> list[str]:
        """Return the subscription frame that opens a socket (books dumped on subscribe)."""
        sub = MarketSubscription(assets_ids=list(keys), initial_dump=True)
        return [_encode(sub).decode()]

    def subscribe_frames(self, keys: Sequence[str]) -> list[str] | None:
        """Return ``operation: subscribe`` frames for these tokens."""
        return [
            _encode(
                SubscriptionUpdate(
                    operation=OP_SUBSCRIBE,
                    assets_ids=list(keys[i : i + _SUBSCRIBE_CHUNK]),
                    custom_feature_enabled=True,
                    initial_dump=True,
                )
            ).decode()
            for i in range(0, len(keys), _SUBSCRIBE_CHUNK)
        ]

    def unsubscribe_frames(self, keys: Sequence[str]) -> list[str] | None:
        """Return ``operation: unsubscribe`` frames for these tokens."""
        return [
            _encode(
                SubscriptionUpdate(
                    operation=OP_UNSUBSCRIBE, assets_ids=list(keys[i : i + _SUBSCRIBE_CHUNK])
                )
            ).decode()
            for i in range(0, len(keys), _SUBSCRIBE_CHUNK)
        ]

    def on_frame(self, payload: bytes) -> FrameAction | None:
        """Return the keepalive action for the server's ``PONG``; None for data."""
        return _PONG if payload == PONG else None


class _AssetWatch:
    """Which subscribed tokens went quiet or never got a book, read from the sink's books.

    The collector's books already count each token's updates and full books
    (``BookWatch.book_progress``), so nothing here touches a frame: the watchdog compares
    those counters between its scans, on the monotonic clock.
    """

    def __init__(self) -> None:
        self.books: BookWatch | None = None
        """The sink's books, known once the session runs."""
        self.waiting: dict[str, tuple[float, int]] = {}
        """Subscribed tokens still without a book since subscribing: (since, books then)."""
        self.moved: dict[str, tuple[int, float]] = {}
        """Per token: its update count at the last scan, and when that count last changed."""

    def subscribed(self, keys: Sequence[str], now: float) -> None:
        for key in keys:
            progress = self.books.book_progress(key) if self.books is not None else None
            self.waiting[key] = (now, progress[0] if progress else 0)

    def forget(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.waiting.pop(key, None)
            self.moved.pop(key, None)

    def never_booked(self, wait_s: float, now: float) -> list[str]:
        """Return (and stop watching) tokens still without a book ``wait_s`` after subscribing."""
        books = self.books
        late: list[str] = []
        if books is None:
            return late
        for key, (since, books_then) in list(self.waiting.items()):
            progress = books.book_progress(key)
            if progress is not None and progress[0] > books_then:
                del self.waiting[key]
            elif now - since >= wait_s:
                del self.waiting[key]
                late.append(key)
        return late

    def silent(self, keys: Sequence[str], quiet_s: float, now: float) -> list[str]:
        """Return tokens without an update for ``quiet_s`` while another of their market moved.

        A token's clock starts at its first scan, so a token is never silent before a whole
        quiet period has been watched.
        """
        books = self.books
        if books is None:
            return []
        moved = self.moved
        market_moved: dict[str, float] = {}
        watched: list[tuple[str, str, float]] = []
        for key in keys:
            progress = books.book_progress(key)
            market = books.market_of(key)
            if progress is None or market is None:
                continue
            seen = moved.get(key)
            if seen is None or seen[0] != progress[1]:
                seen = moved[key] = (progress[1], now)
            last = seen[1]
            if last > market_moved.get(market, float("-inf")):
                market_moved[market] = last
            watched.append((key, market, last))
        return [
            key
            for key, market, last in watched
            if now - last >= quiet_s and now - market_moved[market] < quiet_s
        ]

    def resynced(self, keys: Sequence[str], now: float) -> None:
        """Restart these tokens' quiet clocks: one resync per silent period, not a storm."""
        for key in keys:
            seen = self.moved.get(key)
            if seen is not None:
                self.moved[key] = (seen[0], now)


class MarketChannelSession(VenueSession):
    """The market channel: sharded sockets plus the per-asset silence watchdog."""

    def __init__(
        self,
        settings: WsSettings,
        *,
        asset_silence_s: float = 300.0,
        first_book_s: float = FIRST_BOOK_S,
    ) -> None:
        protocol = MarketChannelProtocol()
        self.engine = ShardedWsSession(settings, lambda _shard: protocol)
        self.asset_silence_s = asset_silence_s
        self.first_book_s = min(first_book_s, asset_silence_s)
        self.assets = _AssetWatch()
        self.asset_resyncs = 0
        self.first_book_reconnects = 0

    @property
    def connected(self) -> bool:
        """Whether at least one socket is up."""
        return self.engine.connected

    @property
    def subscriptions(self) -> frozenset[str]:
        """Return the tokens currently wanted."""
        return self.engine.subscriptions

    async def run(self, sink: FrameSink) -> None:
        """Stream until cancelled, resyncing silent assets (when the sink keeps books)."""
        if self.asset_silence_s <= 0 or not isinstance(sink, BookWatch):
            await self.engine.run(sink)
            return
        self.assets.books = sink
        watchdog = asyncio.create_task(self._asset_watchdog(), name="asset-silence")
        try:
            await self.engine.run(sink)
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog

    async def subscribe(self, keys: Sequence[str]) -> None:
        """Add tokens (each starts from a fresh ``book``)."""
        self.assets.subscribed(keys, mono_s())
        await self.engine.subscribe(keys)

    async def unsubscribe(self, keys: Sequence[str]) -> None:
        """Remove tokens."""
        self.assets.forget(keys)
        await self.engine.unsubscribe(keys)

    async def resync(self, keys: Sequence[str]) -> None:
        """Ask for fresh books of these tokens."""
        await self.engine.resync(keys)

    async def aclose(self) -> None:
        """Close every socket."""
        await self.engine.aclose()

    def shard_stats(self) -> list[dict[str, Any]]:
        """Return per-socket counters."""
        return self.engine.shard_stats()

    async def _asset_watchdog(self) -> None:
        quiet = self.asset_silence_s
        last_scan = mono_s()
        while True:
            await asyncio.sleep(max(self.first_book_s / 4, 0.05))
            now = mono_s()
            never = self.assets.never_booked(self.first_book_s, now)
            if never:
                # No book since subscribing (a dynamic subscribe the venue did not dump, a
                # lost dump): one reconnect of their sockets; the initial dump is reliable.
                self.first_book_reconnects += len(never)
                await self.engine.resync(never, reconnect=True)
            if now - last_scan < quiet / 4:
                continue  # the silence scan walks every token: a few times per quiet period
            last_scan = now
            silent = sorted(self.assets.silent(list(self.engine.subscriptions), quiet, now))
            if silent:
                self.assets.resynced(silent, now)
                self.asset_resyncs += len(silent)
                await self.engine.resync(silent)
