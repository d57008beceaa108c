"""The CLOB market channel over the shared sharded engine, plus a per-asset silence watchdog.

Hooks (§1.6.1-1.6.2): the first frame names the shard's tokens with ``initial_dump`` and
``custom_feature_enabled``; tokens are added and removed on the open socket with
``operation`` frames (the engine reconnects with the new set if that is switched off);
the keepalive is the text ``PING`` answered by ``PONG``.

The per-asset watchdog (§1.6.8): a token can go quiet on an otherwise healthy socket. The
session peeks at which tokens each frame is about (a tiny typed decode, only ids) and asks
for a fresh book of a token that has been silent for ``asset_silence_s`` while the other
token of its market kept moving. A token that never got its first book (a dynamic
subscribe the venue ignored, a lost dump) has its socket reconnected once, since the
initial dump on connect is what the venue delivers reliably.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import msgspec

from pmtape.core.clock import mono_s
from pmtape.net.wsengine import ShardedWsSession, WsHooks, WsSettings
from pmtape.venues.base import DECODE_ERRORS, FrameSink, HttpMeta, VenueSession
from pmtape.venues.polymarket.constants import OP_SUBSCRIBE, OP_UNSUBSCRIBE, PING, PONG
from pmtape.venues.polymarket.messages import MarketSubscription, SubscriptionUpdate

_encode = msgspec.json.Encoder().encode
_SUBSCRIBE_CHUNK = 500
FIRST_BOOK_S = 30.0
"""A token with no book this long after subscribing gets its socket reconnected."""


class MarketChannelHooks(WsHooks):
    """Subscription frames and keepalive of the market channel."""

    def __init__(self, *, dynamic: bool = True) -> None:
        self.dynamic = dynamic

    def initial_messages(self, keys: Sequence[str]) -> list[str]:
        """Return the subscription frame that opens a socket (books dumped on subscribe)."""
        sub = MarketSubscription(assets_ids=list(keys), initial_dump=True)
        return [_encode(sub).decode()]

    def subscribe_messages(self, keys: Sequence[str]) -> list[str] | None:
        """Return ``operation: subscribe`` frames for these tokens."""
        if not self.dynamic:
            return None
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

    def unsubscribe_messages(self, keys: Sequence[str]) -> list[str] | None:
        """Return ``operation: unsubscribe`` frames for these tokens."""
        if not self.dynamic:
            return None
        return [
            _encode(
                SubscriptionUpdate(
                    operation=OP_UNSUBSCRIBE, assets_ids=list(keys[i : i + _SUBSCRIBE_CHUNK])
                )
            ).decode()
            for i in range(0, len(keys), _SUBSCRIBE_CHUNK)
        ]

    def keepalive_message(self) -> str | None:
        """Return the text heartbeat, ``PING``."""
        return PING

    def is_keepalive_reply(self, payload: bytes) -> bool:
        """Return whether a frame is the server's ``PONG``."""
        return payload == PONG


class _PeekItem(msgspec.Struct, gc=False):
    asset_id: str = ""


class _Peek(msgspec.Struct, gc=False):
    event_type: str = ""
    asset_id: str = ""
    market: str = ""
    price_changes: list[_PeekItem] | None = None


_peek = msgspec.json.Decoder(list[_Peek] | _Peek).decode


class _AssetClock:
    """When each token last had data, and which market it belongs to (learned from frames)."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.market_of: dict[str, str] = {}
        self.market_seen: dict[str, float] = {}
        self.waiting: dict[str, float] = {}
        """Subscribed tokens still without their first ``book``, since when."""

    def subscribed(self, keys: Sequence[str], now: float) -> None:
        for key in keys:
            if key not in self.seen:
                self.seen[key] = now
                self.waiting[key] = now

    def forget(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.seen.pop(key, None)
            self.waiting.pop(key, None)

    def note(self, payload: bytes) -> None:
        try:
            decoded = _peek(payload)
        except DECODE_ERRORS:
            return
        now = mono_s()
        for msg in decoded if type(decoded) is list else [decoded]:
            if msg.market:
                self.market_seen[msg.market] = now
            if msg.asset_id:
                self._seen(msg.asset_id, msg.market, now)
                if msg.event_type in ("book", ""):  # snapshots may come untyped (§1.6.3)
                    self.waiting.pop(msg.asset_id, None)
            for item in msg.price_changes or ():
                if item.asset_id:
                    self._seen(item.asset_id, msg.market, now)

    def _seen(self, asset: str, market: str, now: float) -> None:
        self.seen[asset] = now
        if market:
            self.market_of[asset] = market

    def never_booked(self, wait_s: float, now: float) -> list[str]:
        """Return (and stop watching) tokens still without a first book after ``wait_s``."""
        late = [k for k, since in self.waiting.items() if now - since >= wait_s]
        for key in late:
            del self.waiting[key]
        return late

    def silent(self, keys: Sequence[str], quiet_s: float, now: float) -> list[str]:
        """Return keys silent for ``quiet_s`` while the other token of their market moved."""
        out = []
        for key in keys:
            last = self.seen.get(key)
            market = self.market_of.get(key)
            if last is None or market is None or now - last < quiet_s:
                continue
            if now - self.market_seen.get(market, 0.0) < quiet_s:
                out.append(key)
        return out


class _Tap:
    """A sink in front of the real one: notes which tokens a frame carries, then passes it on."""

    def __init__(self, sink: FrameSink, clock: _AssetClock) -> None:
        self._sink = sink
        self._clock = clock

    def on_frame(self, stream: str, payload: bytes, ts_recv_ns: int) -> None:
        self._sink.on_frame(stream, payload, ts_recv_ns)
        self._clock.note(payload)

    def on_http(self, stream: str, payload: bytes, ts_recv_ns: int, meta: HttpMeta) -> None:
        self._sink.on_http(stream, payload, ts_recv_ns, meta)

    def on_session_event(self, stream: str, kind: str, detail: dict[str, Any]) -> None:
        self._sink.on_session_event(stream, kind, detail)


class MarketChannelSession(VenueSession):
    """The market channel: sharded sockets plus the per-asset silence watchdog."""

    def __init__(
        self,
        settings: WsSettings,
        *,
        asset_silence_s: float = 300.0,
        first_book_s: float = FIRST_BOOK_S,
    ) -> None:
        self.engine = ShardedWsSession(
            settings, MarketChannelHooks(dynamic=settings.dynamic_subscribe)
        )
        self.asset_silence_s = asset_silence_s
        self.first_book_s = min(first_book_s, asset_silence_s)
        self.assets = _AssetClock()
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
        """Stream until cancelled, resyncing silent assets."""
        if self.asset_silence_s <= 0:
            await self.engine.run(sink)
            return
        watchdog = asyncio.create_task(self._asset_watchdog(), name="asset-silence")
        try:
            await self.engine.run(_Tap(sink, self.assets))
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
                for key in silent:
                    self.assets.seen[key] = now  # one resync per silent period, not a storm
                self.asset_resyncs += len(silent)
                await self.engine.resync(silent)
