"""What a venue plugs into the WebSocket engine: one protocol object per connection attempt.

The engine (``net.wsengine``) owns sockets, shards, backoff, the silence watchdog and the
sink; a ``WsProtocol`` owns the conversation of one connection with its venue: the upgrade
headers (fresh per attempt, e.g. a request signature), an optional handshake after the
upgrade, the frames that open, grow, shrink or refresh the subscription, the keepalive it
sends, what a received frame asks of the engine (``on_frame`` returns a ``FrameAction``, or
None for plain data: the hot path), and how a failed attempt is reported. A new object is
built for every attempt, so state that dies with a socket (subscription ids, sequences)
lives on it and is simply dropped on a reconnect.
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp

__all__ = [
    "WS",
    "Deliver",
    "Failure",
    "FrameAction",
    "HandshakeError",
    "Shard",
    "WsProtocol",
    "error_text",
    "next_frame",
]

WS = aiohttp.ClientWebSocketResponse[bool]
Deliver = Callable[[bytes], None]
_DATA = (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)


class HandshakeError(Exception):
    """The handshake after the upgrade did not complete (or the subscription not sent)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameAction:
    """What one received frame asks of the engine, beyond the usual (deliver it as data)."""

    deliver: bool = True
    """Hand the frame to the sink as data (False: a keepalive frame, never data)."""
    live: bool = True
    """An undelivered frame still proves the connection alive (the silence watchdog's clock)."""
    count: str = ""
    """A connection counter to bump."""
    send: Sequence[str] = ()
    """Frames to send back on this connection (a reply, a repair request)."""
    events: Sequence[tuple[str, dict[str, Any]]] = ()
    """Session events to report after the frame, in order."""
    reconnect: str = ""
    """Why to drop the connection now (the engine reconnects it), else empty."""


@dataclass(frozen=True, slots=True)
class Failure:
    """How a failed connection attempt is reported and when the next one comes."""

    detail: dict[str, Any]
    """The head of the ``error`` event (the engine adds attempt, retry_in_s, http_status)."""
    stat: str = "connect_failures"
    retry_in_s: float | None = None
    """Wait this long instead of the next backoff delay (e.g. a refused key)."""


class Shard:
    """One connection slot of a session: its keys, its counters, its stream id."""

    def __init__(self, index: int, stream: str) -> None:
        self.index = index
        self.stream = stream
        self.keys: set[str] = set()
        self.stats: Counter[str] = Counter()


def error_text(exc: BaseException) -> str:
    """Return the one-line description of a connection error used in ``error`` events."""
    return repr(exc)[:200]


async def next_frame(ws: WS) -> bytes:
    """Return the next data frame of a handshake; HandshakeError if the socket closed."""
    msg = await ws.receive()
    if msg.type not in _DATA:
        raise HandshakeError(f"closed during the handshake ({msg.type.name.lower()})")
    data = msg.data
    return data if isinstance(data, bytes) else data.encode()


class WsProtocol(abc.ABC):
    """One connection's conversation with a venue (built afresh for every attempt)."""

    ping_frame: ClassVar[str | None] = None
    """An application keepalive sent every ``keepalive_s`` (None: none)."""
    replaces_set: ClassVar[bool] = False
    """Every subscribe replaces the last: each change re-sends ``open_frames`` of the whole
    set, at most once per ``subscribe_interval_s`` (the change hooks are not used)."""
    silence_reason: ClassVar[str] = "data silence"
    silence_stat: ClassVar[str] = "silent_reconnects"
    silence_s: float | None = None
    """Reconnect after this long without a live frame (None: the settings' data_silence_s)."""

    def headers(self) -> dict[str, str] | None:
        """Return the upgrade request's extra headers for this attempt."""
        return None

    async def handshake(self, ws: WS, deliver: Deliver) -> None:  # noqa: B027 - optional hook
        """Complete the venue's handshake after the upgrade (HandshakeError if refused)."""

    @abc.abstractmethod
    def open_frames(self, keys: Sequence[str]) -> list[str]:
        """Return the frames that subscribe these keys on a fresh connection."""

    def subscribe_frames(self, keys: Sequence[str]) -> list[str] | None:
        """Return frames adding keys on the open socket, or None if the venue cannot."""
        return None

    def unsubscribe_frames(self, keys: Sequence[str]) -> list[str] | None:
        """Return frames removing keys on the open socket, or None if the venue cannot."""
        return None

    def resync_frames(self, keys: Sequence[str]) -> list[str] | None:
        """Return frames that make the venue resend full books (default: drop and re-add)."""
        drop = self.unsubscribe_frames(keys)
        add = self.subscribe_frames(keys)
        return None if drop is None or add is None else drop + add

    def on_frame(self, payload: bytes) -> FrameAction | None:
        """Return what a received frame asks beyond delivery; None for plain data."""
        return None

    def failure(self, exc: Exception) -> Failure:
        """Describe a failed connection attempt."""
        return Failure({"error": error_text(exc)})
