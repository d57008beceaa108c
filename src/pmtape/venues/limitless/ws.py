"""The Limitless market feed: Socket.IO v4 over a raw WebSocket, full books on every update.

Limitless's protocol on the shared engine (``net.wsengine``), per connection (at most
``max_keys_per_conn`` slugs): open the Engine.IO socket
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
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import msgspec

from pmtape.net.http import USER_AGENT
from pmtape.net.wsengine import ShardedWsSession, WsSettings
from pmtape.net.wsproto import (
    WS,
    Deliver,
    Failure,
    FrameAction,
    HandshakeError,
    Shard,
    WsProtocol,
    error_text,
    next_frame,
)
from pmtape.venues.base import DECODE_ERRORS
from pmtape.venues.limitless import sio
from pmtape.venues.limitless.constants import (
    DEFAULT_PING_INTERVAL_MS,
    DEFAULT_PING_TIMEOUT_MS,
    EIO_PATH,
    EIO_QUERY,
    EMIT_SUBSCRIBE,
    NAMESPACE,
)

_HEADERS = {"User-Agent": USER_AGENT}
_PING = FrameAction(deliver=False, count="pings", send=("3",))
_CLOSED = FrameAction(reconnect="server closed the namespace")


class _Open(msgspec.Struct):
    pingInterval: int = DEFAULT_PING_INTERVAL_MS
    pingTimeout: int = DEFAULT_PING_TIMEOUT_MS


def engineio_url(base: str) -> str:
    """Return the Engine.IO WebSocket URL of a Socket.IO server base URL."""
    return base.rstrip("/") + EIO_PATH + "?" + urlencode(EIO_QUERY)


class LimitlessProtocol(WsProtocol):
    """One Socket.IO connection: handshake, server pings, the replacing subscribe emit."""

    replaces_set = True
    silence_reason = "no ping from the server"
    silence_stat = "dead_reconnects"

    def __init__(self, namespace: str, stats: Counter[str]) -> None:
        self.namespace = namespace
        self.stats = stats
        self.silence_s = (DEFAULT_PING_INTERVAL_MS + DEFAULT_PING_TIMEOUT_MS) / 1000
        self._closed = sio.disconnect_frame(namespace).encode()

    def headers(self) -> dict[str, str] | None:
        """Return the client's User-Agent."""
        return _HEADERS

    async def handshake(self, ws: WS, deliver: Deliver) -> None:
        """Read the Engine.IO open packet, connect the namespace and wait for its ack."""
        frame = await next_frame(ws)
        packet = sio.parse(frame)
        if packet is None or packet.eio != "0":
            raise HandshakeError(f"expected an Engine.IO open packet, got {frame[:80]!r}")
        deliver(frame)
        try:
            opened = msgspec.json.decode(packet.data, type=_Open)
        except DECODE_ERRORS:
            opened = _Open()
        self.silence_s = (opened.pingInterval + opened.pingTimeout) / 1000
        await ws.send_str(sio.connect_frame(self.namespace))
        while True:
            frame = await next_frame(ws)
            packet = sio.parse(frame)
            if packet is not None and packet.eio == "2":
                await ws.send_str("3")
                continue
            deliver(frame)
            if packet is None or packet.namespace != self.namespace:
                continue
            if packet.sio == "0":
                return
            if packet.sio == "4":
                raise HandshakeError(f"namespace refused: {packet.data[:120]!r}")

    def open_frames(self, keys: Sequence[str]) -> list[str]:
        """Return the ``subscribe_market_prices`` emit of the whole set."""
        self.stats["subscribe_emits"] += 1
        return [sio.event_frame(self.namespace, EMIT_SUBSCRIBE, {"marketSlugs": list(keys)})]

    def on_frame(self, payload: bytes) -> FrameAction | None:
        """Answer server pings; end on an Engine.IO close or a namespace disconnect."""
        if payload == b"2":
            return _PING
        if payload == b"1" or payload == self._closed:
            return _CLOSED
        return None

    def failure(self, exc: Exception) -> Failure:
        """Describe a failed connect or handshake."""
        return Failure({"kind": "connect", "error": error_text(exc)})


class LimitlessFeedSession(ShardedWsSession):
    """Full books of Limitless slugs over Socket.IO connections."""

    def __init__(
        self,
        settings: WsSettings,
        *,
        namespace: str = NAMESPACE,
        rng: random.Random | None = None,
    ) -> None:
        def protocol(shard: Shard) -> LimitlessProtocol:
            return LimitlessProtocol(namespace, shard.stats)

        super().__init__(settings, protocol, rng=rng)

    def conn_stats(self) -> list[dict[str, Any]]:
        """Return per-connection counters."""
        return [{"conn": row.pop("shard"), **row} for row in self.shard_stats()]
