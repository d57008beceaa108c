"""The Limitless market feed: Socket.IO v4 over a raw WebSocket, full books on every update.

Per connection (at most ``markets_per_connection`` slugs): open the Engine.IO socket
(``/socket.io/?EIO=4&transport=websocket``), read the open packet for ``pingInterval`` and
``pingTimeout``, connect the ``/markets`` namespace and wait for its ack — events sent
before it would make a Socket.IO server drop the client — then emit
``subscribe_market_prices`` with the connection's WHOLE set: each emit replaces the last
(§3.4.2), so every change re-sends the full set, at most once per ``subscribe_interval_s``.

The heartbeat is the server's: ``2`` is answered with ``3`` at once; a connection with no
packet at all for ``pingInterval + pingTimeout`` is dead and reconnected. Quiet markets can
be silent for minutes on a healthy socket, so there is no per-market silence watchdog.
Every update is a complete book, so recovery is simply to subscribe again: a drop is
reported as ``disconnected`` with the connection's slugs (stale until their next book),
then the set is re-sent after reconnecting; ``resync`` re-sends it too.

net/'s ShardedWsSession cannot wait for the namespace ack, answer server pings, or send a
connection's full set on each change, hence this session.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import msgspec

from pmtape.core.clock import mono_s
from pmtape.net.backoff import Backoff
from pmtape.net.http import USER_AGENT
from pmtape.net.session import FrameSink, VenueSession
from pmtape.venues.base import DECODE_ERRORS
from pmtape.venues.limitless import sio
from pmtape.venues.limitless.constants import (
    DEFAULT_PING_INTERVAL_MS,
    DEFAULT_PING_TIMEOUT_MS,
    EIO_PATH,
    EIO_QUERY,
    EMIT_SUBSCRIBE,
    MAX_FRAME_BYTES,
    NAMESPACE,
    STREAM_WS,
)

_DATA = (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)
WS = aiohttp.ClientWebSocketResponse[bool]


class _Open(msgspec.Struct):
    pingInterval: int = DEFAULT_PING_INTERVAL_MS
    pingTimeout: int = DEFAULT_PING_TIMEOUT_MS


class HandshakeError(Exception):
    """The Engine.IO or namespace handshake did not complete."""


@dataclass(frozen=True, kw_only=True)
class FeedSettings:
    """Numbers of the Limitless feed session."""

    url: str
    namespace: str = NAMESPACE
    stream: str = STREAM_WS
    markets_per_connection: int = 200
    subscribe_interval_s: float = 0.5
    connect_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    backoff_reset_s: float = 30.0
    max_frame_bytes: int = MAX_FRAME_BYTES


def engineio_url(base: str) -> str:
    """Return the Engine.IO WebSocket URL of a Socket.IO server base URL."""
    return base.rstrip("/") + EIO_PATH + "?" + urlencode(EIO_QUERY)


class _Conn:
    def __init__(self, index: int, stream: str, backoff: Backoff) -> None:
        self.index = index
        self.stream = stream
        self.backoff = backoff
        self.keys: set[str] = set()
        self.ws: WS | None = None
        self.task: asyncio.Task[None] | None = None
        self.dirty = asyncio.Event()
        self.last_packet = 0.0
        self.dead_after_s = (DEFAULT_PING_INTERVAL_MS + DEFAULT_PING_TIMEOUT_MS) / 1000
        self.end_reason = ""
        self.stats: Counter[str] = Counter()

    async def drop(self, reason: str) -> None:
        ws = self.ws
        if ws is not None and not self.end_reason:
            self.end_reason = reason
            await ws.close()


class LimitlessFeedSession(VenueSession):
    """Full books of Limitless slugs over Socket.IO connections."""

    def __init__(self, settings: FeedSettings, *, rng: random.Random | None = None) -> None:
        if settings.markets_per_connection < 1:
            raise ValueError("markets_per_connection must be >= 1")
        self.settings = settings
        self._url = engineio_url(settings.url)
        self._rng = rng or random.Random()
        self._conns: list[_Conn] = []
        self._conn_of: dict[str, _Conn] = {}
        self._sink: FrameSink | None = None
        self._http: aiohttp.ClientSession | None = None
        self._next_index = 0

    @property
    def connected(self) -> bool:
        """Whether at least one connection is up."""
        return any(c.ws is not None for c in self._conns)

    @property
    def subscriptions(self) -> frozenset[str]:
        """Return every slug currently wanted."""
        return frozenset(self._conn_of)

    async def run(self, sink: FrameSink) -> None:
        """Run every connection until cancelled."""
        self._sink = sink
        self._http = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        try:
            for conn in self._conns:
                self._start(conn)
            await asyncio.Event().wait()
        finally:
            await self.aclose()

    async def subscribe(self, keys: Sequence[str]) -> None:
        """Add slugs; their connections re-send their whole sets."""
        new = [k for k in dict.fromkeys(keys) if k not in self._conn_of]
        for key in new:
            conn = self._conn_with_room()
            conn.keys.add(key)
            self._conn_of[key] = conn
            conn.dirty.set()
            self._start(conn)
        self._event("subscribed", {"count": len(new), "total": len(self._conn_of)})

    async def unsubscribe(self, keys: Sequence[str]) -> None:
        """Remove slugs; a connection left empty is closed, the others re-send their sets."""
        count = 0
        for key in dict.fromkeys(keys):
            conn = self._conn_of.pop(key, None)
            if conn is None:
                continue
            count += 1
            conn.keys.discard(key)
            conn.dirty.set()
            if not conn.keys:
                self._conns.remove(conn)
                await self._stop(conn)
        self._event("unsubscribed", {"count": count, "total": len(self._conn_of)})

    async def resync(self, keys: Sequence[str]) -> None:
        """Subscribe these slugs' connections again (every update is a full book)."""
        for key in keys:
            conn = self._conn_of.get(key)
            if conn is not None:
                conn.dirty.set()
        self._event("resync", {"keys": list(keys)})

    async def aclose(self) -> None:
        """Close every connection and the HTTP session (idempotent)."""
        for conn in list(self._conns):
            await self._stop(conn)
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    def conn_stats(self) -> list[dict[str, Any]]:
        """Return per-connection counters."""
        out = []
        for c in self._conns:
            row: dict[str, Any] = {"conn": c.index, "keys": len(c.keys), "up": c.ws is not None}
            row.update(c.stats)
            out.append(row)
        return out

    # -- connections ----------------------------------------------------------------------------

    def _conn_with_room(self) -> _Conn:
        st = self.settings
        for conn in self._conns:
            if len(conn.keys) < st.markets_per_connection:
                return conn
        index = self._next_index
        self._next_index += 1
        rng = random.Random(self._rng.random())
        backoff = Backoff(
            st.backoff_base_s, st.backoff_max_s, reset_after_s=st.backoff_reset_s, rng=rng
        )
        conn = _Conn(index, f"{st.stream}/{index}", backoff)
        self._conns.append(conn)
        return conn

    def _start(self, conn: _Conn) -> None:
        if self._sink is not None and conn.task is None and conn.keys:
            conn.task = asyncio.create_task(self._conn_loop(conn), name=conn.stream)

    async def _stop(self, conn: _Conn) -> None:
        task, conn.task = conn.task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _conn_loop(self, conn: _Conn) -> None:
        while True:
            try:
                ws = await self._connect(conn)
            except (aiohttp.ClientError, OSError, TimeoutError, HandshakeError) as exc:
                conn.stats["connect_failures"] += 1
                delay = conn.backoff.next_delay()
                detail: dict[str, Any] = {
                    "kind": "connect",
                    "error": repr(exc)[:200],
                    "retry_in_s": delay,
                }
                if isinstance(exc, aiohttp.WSServerHandshakeError):  # an HTTP error status
                    detail["http_status"] = exc.status
                self._event("error", detail, conn)
                await asyncio.sleep(delay)
                continue
            try:
                await self._serve(conn, ws)
            finally:
                conn.ws = None
                if not ws.closed:
                    await asyncio.shield(ws.close())
                detail = {"keys": sorted(conn.keys), "reason": conn.end_reason or "stopped"}
                self._event("disconnected", detail, conn)
            await asyncio.sleep(conn.backoff.next_delay())

    async def _connect(self, conn: _Conn) -> WS:
        st = self.settings
        if self._http is None:
            raise RuntimeError("the session is not running")
        async with asyncio.timeout(st.connect_timeout_s):
            ws = await self._http.ws_connect(
                self._url,
                autoping=True,
                max_msg_size=st.max_frame_bytes,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=st.close_timeout_s),
                compress=0,
            )
            try:
                await self._handshake(conn, ws)
            except BaseException:
                await ws.close()
                raise
        conn.ws = ws
        conn.end_reason = ""
        conn.dirty.set()  # every reconnect subscribes the whole set again
        conn.stats["connects"] += 1
        conn.backoff.succeeded()
        self._event("connected", {"keys": len(conn.keys), "connects": conn.stats["connects"]}, conn)
        return ws

    async def _handshake(self, conn: _Conn, ws: WS) -> None:
        frame = await self._next_frame(ws)
        packet = sio.parse(frame)
        if packet is None or packet.eio != "0":
            raise HandshakeError(f"expected an Engine.IO open packet, got {frame[:80]!r}")
        self._deliver(conn, frame)
        try:
            opened = msgspec.json.decode(packet.data, type=_Open)
        except DECODE_ERRORS:
            opened = _Open()
        conn.dead_after_s = (opened.pingInterval + opened.pingTimeout) / 1000
        await ws.send_str(sio.connect_frame(self.settings.namespace))
        while True:
            frame = await self._next_frame(ws)
            packet = sio.parse(frame)
            if packet is not None and packet.eio == "2":
                await ws.send_str("3")
                continue
            self._deliver(conn, frame)
            if packet is None or packet.namespace != self.settings.namespace:
                continue
            if packet.sio == "0":
                return
            if packet.sio == "4":
                raise HandshakeError(f"namespace refused: {packet.data[:120]!r}")

    async def _next_frame(self, ws: WS) -> bytes:
        msg = await ws.receive()
        if msg.type not in _DATA:
            raise HandshakeError(f"closed during the handshake ({msg.type.name.lower()})")
        data = msg.data
        return data if isinstance(data, bytes) else data.encode()

    async def _serve(self, conn: _Conn, ws: WS) -> None:
        helpers = [
            asyncio.create_task(self._sender(conn, ws), name=f"{conn.stream}-subscribe"),
            asyncio.create_task(self._watchdog(conn, ws), name=f"{conn.stream}-watchdog"),
        ]
        try:
            await self._pump(conn, ws)
        finally:
            for task in helpers:
                task.cancel()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _pump(self, conn: _Conn, ws: WS) -> None:
        stats = conn.stats
        namespace = self.settings.namespace
        conn.last_packet = mono_s()
        while True:
            msg = await ws.receive()
            if msg.type not in _DATA:
                conn.end_reason = conn.end_reason or f"closed ({msg.type.name.lower()})"
                return
            data = msg.data
            payload = data if isinstance(data, bytes) else data.encode()
            conn.last_packet = mono_s()
            if payload == b"2":
                stats["pings"] += 1
                await ws.send_str("3")
                continue
            self._deliver(conn, payload)
            if payload == b"1" or payload == sio.disconnect_frame(namespace).encode():
                conn.end_reason = "server closed the namespace"
                return

    async def _sender(self, conn: _Conn, ws: WS) -> None:
        while True:
            await conn.dirty.wait()
            conn.dirty.clear()
            frame = sio.event_frame(
                self.settings.namespace, EMIT_SUBSCRIBE, {"marketSlugs": sorted(conn.keys)}
            )
            try:
                await ws.send_str(frame)
            except (aiohttp.ClientError, ConnectionError, RuntimeError):
                conn.stats["send_errors"] += 1
                return
            conn.stats["subscribe_emits"] += 1
            await asyncio.sleep(self.settings.subscribe_interval_s)

    async def _watchdog(self, conn: _Conn, ws: WS) -> None:
        while not ws.closed:
            await asyncio.sleep(max(conn.dead_after_s / 8, 0.05))
            if mono_s() - conn.last_packet > conn.dead_after_s:
                conn.stats["dead_reconnects"] += 1
                await conn.drop("no ping from the server")
                return

    def _deliver(self, conn: _Conn, payload: bytes) -> None:
        conn.stats["frames"] += 1
        if self._sink is not None:
            self._sink.on_frame(conn.stream, payload, time.time_ns())

    def _event(self, kind: str, detail: dict[str, Any], conn: _Conn | None = None) -> None:
        if self._sink is not None:
            stream = conn.stream if conn is not None else self.settings.stream
            self._sink.on_session_event(stream, kind, detail)
