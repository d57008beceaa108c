"""The one WebSocket engine: many keys over several sockets, each reconnecting by itself.

Keys (a venue's poll keys) are packed into shards of at most ``max_keys_per_conn``; each
shard is one connection with its own task. For every connection attempt the venue's
factory builds a ``WsProtocol`` (``net.wsproto``): the upgrade headers, an optional
handshake, the frames that open, change or refresh the subscription, the keepalive and
what a received frame asks of the engine. The engine never parses data: every data frame
goes to the sink raw, with its receive stamp.

Faults it survives: a refused or dropped connection (reconnect after exponential backoff
with full jitter, or after the protocol's own wait for e.g. a refused key, re-subscribing
the shard's current keys); a socket that still answers the keepalive but sends nothing
live (the per-connection silence watchdog reconnects it); a venue that cannot add or
remove keys on an open socket (the protocol returns None, the shard reconnects with its
new set); a frame that asks for a reconnect. Each loss is reported as ``disconnected``
with the shard's keys — their books are stale until fresh snapshots arrive — then
``connected`` again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from pmtape.core.clock import mono_s
from pmtape.net.backoff import Backoff
from pmtape.net.session import FrameSink, VenueSession
from pmtape.net.wsproto import WS, FrameAction, HandshakeError, Shard, WsProtocol

__all__ = ["ProtocolFactory", "ShardedWsSession", "WsSettings"]

log = logging.getLogger(__name__)
_DATA = (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)
_CONNECT_ERRORS = (aiohttp.ClientError, OSError, TimeoutError, HandshakeError)
_LOOP_STEP_S = 0.004
"""How long all sockets together handle buffered frames before the event loop runs others:
each socket yields after its share of this (at least ``_STEP_MIN_S``)."""
_STEP_MIN_S = 0.0002

ProtocolFactory = Callable[[Shard], WsProtocol]
"""Builds the protocol of one connection attempt of a shard."""


@dataclass(frozen=True, kw_only=True)
class WsSettings:
    """Numbers of one venue's WebSocket: where, how many keys a socket, how patient."""

    url: str
    stream: str = "ws"
    max_keys_per_conn: int = 200
    keepalive_s: float = 10.0
    """Cadence of the protocol's application ping (if it has one)."""
    heartbeat_s: float | None = None
    """Cadence of WebSocket-level pings; a missing pong closes the socket (None: none)."""
    data_silence_s: float = 120.0
    """Reconnect a socket that delivered no live frame for this long (0: never)."""
    connect_timeout_s: float = 10.0
    """Upgrade plus handshake must complete within this."""
    close_timeout_s: float = 2.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    backoff_reset_s: float = 10.0
    """A socket that stayed up this long reconnects from the base delay again."""
    max_frame_bytes: int = 16 * 1024 * 1024
    dynamic_subscribe: bool = True
    """False: every change of a shard's keys reconnects it with the new set."""
    subscribe_interval_s: float = 0.5
    """Protocols that replace the set: at most one subscribe a connection per this."""


class _Conn(Shard):
    def __init__(self, index: int, stream: str, backoff: Backoff) -> None:
        super().__init__(index, stream)
        self.backoff = backoff
        self.live: set[str] = set()
        self.ws: WS | None = None
        self.proto: WsProtocol | None = None
        self.task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()
        self.dirty = asyncio.Event()
        self.end_reason = ""
        self.closing: asyncio.Task[bool] | None = None
        self.last_data = 0.0

    async def send(self, frames: Sequence[str]) -> bool:
        ws = self.ws
        if ws is None:
            return False
        try:
            for frame in frames:
                await ws.send_str(frame)
        except (aiohttp.ClientError, ConnectionError, RuntimeError):
            self.stats["send_errors"] += 1
            return False
        self.stats["commands"] += len(frames)
        return True

    def drop(self, reason: str) -> None:
        """Start closing the current socket; the shard's loop then reconnects.

        The close handshake runs in the background: whoever asked (a subscribe call, the
        watchdog, a frame) never waits for a venue that is slow to answer it.
        """
        ws = self.ws
        if ws is not None and not self.end_reason:
            self.end_reason = reason
            self.closing = asyncio.create_task(ws.close())


class ShardedWsSession(VenueSession):
    """A venue session over sharded WebSocket connections, speaking the venue's protocol."""

    def __init__(
        self,
        settings: WsSettings,
        protocol: ProtocolFactory,
        *,
        rng: random.Random | None = None,
    ) -> None:
        if settings.max_keys_per_conn < 1:
            raise ValueError("max_keys_per_conn must be >= 1")
        self.settings = settings
        self._protocol = protocol
        self._rng = rng or random.Random()
        self._shards: list[_Conn] = []
        self._shard_of: dict[str, _Conn] = {}
        self._sink: FrameSink | None = None
        self._http: aiohttp.ClientSession | None = None
        self._next_index = 0

    # -- the VenueSession surface ----------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether at least one shard has a live socket."""
        return any(s.ws is not None for s in self._shards)

    @property
    def subscriptions(self) -> frozenset[str]:
        """Return every key currently wanted."""
        return frozenset(self._shard_of)

    async def run(self, sink: FrameSink) -> None:
        """Run every shard until cancelled."""
        self._sink = sink
        self._http = aiohttp.ClientSession()
        try:
            for shard in self._shards:
                self._start(shard)
            await asyncio.Event().wait()
        finally:
            await self.aclose()

    async def subscribe(self, keys: Sequence[str]) -> None:
        """Add keys: fill shards with room, open new shards for the rest."""
        new = [k for k in dict.fromkeys(keys) if k not in self._shard_of]
        added: dict[_Conn, list[str]] = {}
        for key in new:
            shard = self._shard_with_room()
            shard.keys.add(key)
            self._shard_of[key] = shard
            added.setdefault(shard, []).append(key)
        for shard, shard_keys in added.items():
            if shard.task is None:
                self._start(shard)
            else:
                await self._change(shard, shard_keys, add=True)
        self._event("subscribed", {"count": len(new), "total": len(self._shard_of)})

    async def unsubscribe(self, keys: Sequence[str]) -> None:
        """Remove keys; a shard left empty is closed."""
        removed: dict[_Conn, list[str]] = {}
        for key in dict.fromkeys(keys):
            shard = self._shard_of.pop(key, None)
            if shard is not None:
                shard.keys.discard(key)
                removed.setdefault(shard, []).append(key)
        for shard, shard_keys in removed.items():
            if not shard.keys:
                await self._close_shard(shard)
            else:
                await self._change(shard, shard_keys, add=False)
        count = sum(map(len, removed.values()))
        self._event("unsubscribed", {"count": count, "total": len(self._shard_of)})

    async def resync(self, keys: Sequence[str], *, reconnect: bool = False) -> None:
        """Ask for fresh full books of these keys (re-subscribe, or reconnect their shards)."""
        by_shard: dict[_Conn, list[str]] = {}
        for key in keys:
            shard = self._shard_of.get(key)
            if shard is not None:
                by_shard.setdefault(shard, []).append(key)
        for shard, shard_keys in by_shard.items():
            shard.stats["resyncs"] += len(shard_keys)
            async with shard.lock:
                proto = shard.proto
                if proto is None or shard.ws is None:
                    continue  # not connected: the next connect brings full books anyway
                if proto.replaces_set and not reconnect:
                    shard.dirty.set()  # subscribing again is what brings full books
                    continue
                frames = None if reconnect else proto.resync_frames(shard_keys)
                sent = frames is not None and await shard.send(frames)
            if not sent:
                shard.drop("resync")
        self._event("resync", {"keys": list(keys)})

    async def aclose(self) -> None:
        """Close every shard and the HTTP session (idempotent)."""
        for shard in list(self._shards):
            await self._stop(shard)
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    def shard_stats(self) -> list[dict[str, Any]]:
        """Return per-shard counters: keys, connects, reconnects, frames, bytes, ..."""
        out = []
        for s in self._shards:
            row: dict[str, Any] = {"shard": s.index, "keys": len(s.keys), "up": s.ws is not None}
            row.update(s.stats)
            out.append(row)
        return out

    # -- shards --------------------------------------------------------------------------------

    def _shard_with_room(self) -> _Conn:
        limit = self.settings.max_keys_per_conn
        for shard in self._shards:
            if len(shard.keys) < limit:
                return shard
        index = self._next_index
        self._next_index += 1
        st = self.settings
        backoff = Backoff(
            st.backoff_base_s,
            st.backoff_max_s,
            reset_after_s=st.backoff_reset_s,
            rng=random.Random(self._rng.random()),
        )
        shard = _Conn(index, f"{st.stream}/{index}", backoff)
        self._shards.append(shard)
        return shard

    def _start(self, shard: _Conn) -> None:
        if self._sink is not None and shard.task is None and shard.keys:
            shard.task = asyncio.create_task(self._shard_loop(shard), name=shard.stream)

    async def _change(self, shard: _Conn, keys: list[str], *, add: bool) -> None:
        async with shard.lock:
            proto = shard.proto
            if proto is None or shard.ws is None:
                return  # not connected: the next connect subscribes the shard's whole set
            if proto.replaces_set:
                shard.dirty.set()  # the sender re-sends the whole set, at its own pace
                return
            frames = None
            if self.settings.dynamic_subscribe:
                build = proto.subscribe_frames if add else proto.unsubscribe_frames
                frames = build(keys)
            if frames is not None and await shard.send(frames):
                if add:
                    shard.live.update(keys)
                else:
                    shard.live.difference_update(keys)
                return
        shard.stats["resubscribe_reconnects"] += 1
        shard.drop("resubscribe")

    async def _close_shard(self, shard: _Conn) -> None:
        self._shards.remove(shard)  # first, so no key is placed on it while it stops
        await self._stop(shard)

    async def _stop(self, shard: _Conn) -> None:
        task, shard.task = shard.task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _shard_loop(self, shard: _Conn) -> None:
        while True:
            ws = await self._connect(shard)
            if ws is None:
                continue
            try:
                await self._serve(shard, ws)
            finally:
                keys = sorted(shard.live | shard.keys)
                shard.ws = None
                shard.proto = None
                shard.live = set()
                closing, shard.closing = shard.closing, None
                if closing is None and not ws.closed:
                    closing = asyncio.ensure_future(ws.close())
                if closing is not None:
                    await asyncio.shield(closing)
                reason = shard.end_reason or "stopped"
                self._event("disconnected", {"keys": keys, "reason": reason}, shard)
            if shard.end_reason == "resubscribe":
                continue  # a deliberate reconnect with the new set: no penalty
            await asyncio.sleep(shard.backoff.next_delay())

    async def _connect(self, shard: _Conn) -> WS | None:
        """Open, shake hands and subscribe; on failure report it, wait, return None."""
        http = self._http
        if http is None:
            raise RuntimeError("the session is not running")
        proto = self._protocol(shard)
        try:
            ws = await self._open(http, proto, shard)
            await self._subscribe_all(shard, ws, proto)
        except _CONNECT_ERRORS as exc:
            failure = proto.failure(exc)
            attempt = shard.backoff.attempt
            wait = failure.retry_in_s
            delay = shard.backoff.next_delay() if wait is None else wait
            shard.stats[failure.stat] += 1
            detail = {**failure.detail, "attempt": attempt, "retry_in_s": round(delay, 3)}
            if isinstance(exc, aiohttp.WSServerHandshakeError):  # an HTTP error status
                detail["http_status"] = exc.status
            self._event("error", detail, shard)
            await asyncio.sleep(delay)
            return None
        shard.stats["connects"] += 1
        shard.backoff.succeeded()
        shard.last_data = mono_s()
        detail = {"keys": len(shard.live), "connects": shard.stats["connects"]}
        self._event("connected", detail, shard)
        return ws

    async def _subscribe_all(self, shard: _Conn, ws: WS, proto: WsProtocol) -> None:
        async with shard.lock:
            shard.ws = ws
            shard.proto = proto
            keys = sorted(shard.keys)
            shard.live = set(keys)
            shard.end_reason = ""
            shard.dirty.clear()
            sent = await shard.send(proto.open_frames(keys))
        if not sent:
            shard.ws = None
            shard.proto = None
            await ws.close()
            raise HandshakeError("could not send the subscription")

    async def _open(self, http: aiohttp.ClientSession, proto: WsProtocol, shard: _Conn) -> WS:
        st = self.settings
        headers = proto.headers()
        async with asyncio.timeout(st.connect_timeout_s):
            ws = await http.ws_connect(
                st.url,
                headers=headers,
                autoping=True,
                heartbeat=st.heartbeat_s,
                max_msg_size=st.max_frame_bytes,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=st.close_timeout_s),
                decode_text=False,
                compress=0,
            )
            try:
                await proto.handshake(ws, lambda payload: self._deliver(shard, payload))
            except BaseException:
                await ws.close()
                raise
        return ws

    async def _serve(self, shard: _Conn, ws: WS) -> None:
        proto = shard.proto
        if proto is None:
            return
        helpers = []
        silence = proto.silence_s if proto.silence_s is not None else self.settings.data_silence_s
        if proto.ping_frame is not None or silence > 0:
            watchdog = self._watchdog(shard, ws, proto, silence)
            helpers.append(asyncio.create_task(watchdog, name=f"{shard.stream}-watchdog"))
        if proto.replaces_set:
            sender = self._sender(shard, proto)
            helpers.append(asyncio.create_task(sender, name=f"{shard.stream}-subscribe"))
        try:
            await self._pump(shard, ws, proto)
        finally:
            for task in helpers:
                task.cancel()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _pump(self, shard: _Conn, ws: WS, proto: WsProtocol) -> None:
        sink = self._sink
        on_frame = proto.on_frame
        stats = shard.stats
        stream = shard.stream
        step_end = time.perf_counter() + self._step_s()
        while True:
            if time.perf_counter() > step_end:
                # receive() does not suspend while frames are buffered: after a burst,
                # let timers and the other sockets run (loop lag stays bounded).
                await asyncio.sleep(0)
                step_end = time.perf_counter() + self._step_s()
            msg = await ws.receive()
            if msg.type not in _DATA:
                if msg.type is aiohttp.WSMsgType.ERROR:
                    stats["errors"] += 1
                shard.end_reason = shard.end_reason or f"closed ({msg.type.name.lower()})"
                return
            data = msg.data
            payload = data if isinstance(data, bytes) else data.encode()
            act = on_frame(payload)
            if act is not None and not act.deliver:
                if act.live:
                    shard.last_data = mono_s()
                if await self._follow(shard, act):
                    return
                continue
            shard.last_data = mono_s()
            stats["frames"] += 1
            stats["bytes"] += len(payload)
            if sink is not None:
                try:
                    sink.on_frame(stream, payload, time.time_ns())
                except Exception:  # a sink bug must not take the socket down; counted
                    stats["sink_errors"] += 1
                    if stats["sink_errors"] == 1:
                        log.exception("%s: the sink failed on a frame (counted)", stream)
            if act is not None and await self._follow(shard, act):
                return

    async def _follow(self, shard: _Conn, act: FrameAction) -> bool:
        """Do what a frame asked beyond delivery; return whether the connection ends."""
        if act.count:
            shard.stats[act.count] += 1
        for kind, detail in act.events:
            self._event(kind, detail, shard)
        if act.send:
            async with shard.lock:
                await shard.send(act.send)
        if act.reconnect:
            shard.drop(act.reconnect)
            return True
        return False

    def _deliver(self, shard: _Conn, payload: bytes) -> None:
        # Frames of a handshake (the pump delivers the rest inline).
        shard.stats["frames"] += 1
        shard.stats["bytes"] += len(payload)
        if self._sink is not None:
            self._sink.on_frame(shard.stream, payload, time.time_ns())

    def _step_s(self) -> float:
        # Every busy socket may take its step in the same loop iteration: share the budget.
        return max(_STEP_MIN_S, _LOOP_STEP_S / max(1, len(self._shards)))

    async def _watchdog(self, shard: _Conn, ws: WS, proto: WsProtocol, silence: float) -> None:
        st = self.settings
        ping = proto.ping_frame
        ticks = (st.keepalive_s if ping is not None else 0.0, silence / 4 or 1.0, 1.0)
        tick = min(x for x in ticks if x > 0)
        next_ping = mono_s() + st.keepalive_s
        while not ws.closed:
            await asyncio.sleep(tick)
            now = mono_s()
            if ping is not None and now >= next_ping:
                next_ping = now + st.keepalive_s
                async with shard.lock:
                    await shard.send([ping])
            if silence > 0 and now - shard.last_data > silence:
                # Keepalive replies may still flow: a socket can be alive and useless.
                shard.stats[proto.silence_stat] += 1
                shard.drop(proto.silence_reason)
                return

    async def _sender(self, shard: _Conn, proto: WsProtocol) -> None:
        # The connect sent the whole set; later changes follow at most once per interval.
        while True:
            await asyncio.sleep(self.settings.subscribe_interval_s)
            await shard.dirty.wait()
            shard.dirty.clear()
            async with shard.lock:
                keys = sorted(shard.keys)
                if not await shard.send(proto.open_frames(keys)):
                    return
                shard.live = set(keys)

    def _event(self, kind: str, detail: dict[str, Any], shard: Shard | None = None) -> None:
        if self._sink is not None:
            stream = shard.stream if shard is not None else self.settings.stream
            self._sink.on_session_event(stream, kind, detail)
