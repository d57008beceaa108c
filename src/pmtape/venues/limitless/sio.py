"""Socket.IO v4 packets over Engine.IO v4 WebSocket frames: parse and build (§3.4.1).

A text frame is one Engine.IO packet: ``0{...}`` open, ``2``/``3`` ping/pong, ``4...`` a
message that is itself a Socket.IO packet — ``40/markets,{...}`` namespace connect (ack),
``41/markets,`` disconnect, ``42/markets,12["event",{...}]`` an event (with optional ack id),
``43/markets,12[...]`` the ack of event 12, ``44/markets,{...}`` connect error. The default
namespace ``/`` is written without a prefix. Shared by the session, the normalizer and the
fake server.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

_encode = msgspec.json.Encoder().encode


class Packet(NamedTuple):
    """One decoded frame: Engine.IO type, Socket.IO type ("" unless a message), the rest."""

    eio: str
    sio: str
    namespace: str
    ack: int | None
    data: bytes


def parse(frame: bytes) -> Packet | None:
    """Split a frame into its packet parts; None if it is no Engine.IO packet at all."""
    if not frame or not 0x30 <= frame[0] <= 0x36:
        return None
    eio = chr(frame[0])
    if eio != "4":
        return Packet(eio, "", "", None, frame[1:])
    if len(frame) < 2 or not 0x30 <= frame[1] <= 0x36:
        return None
    sio = chr(frame[1])
    rest = frame[2:]
    namespace = "/"
    if rest.startswith(b"/"):
        comma = rest.find(b",")
        if comma < 0:
            namespace, rest = rest.decode("utf-8", "replace"), b""
        else:
            namespace, rest = rest[:comma].decode("utf-8", "replace"), rest[comma + 1 :]
    digits = 0
    while digits < len(rest) and 0x30 <= rest[digits] <= 0x39:
        digits += 1
    ack = int(rest[:digits]) if digits else None
    return Packet(eio, sio, namespace, ack, rest[digits:])


def _prefix(kind: str, namespace: str) -> str:
    return kind if namespace == "/" else f"{kind}{namespace},"


def connect_frame(namespace: str, data: Any = None) -> str:
    """Return a namespace CONNECT packet (client: no data; server: ``{"sid": ...}``)."""
    body = "" if data is None else _encode(data).decode()
    return _prefix("40", namespace) + body


def disconnect_frame(namespace: str) -> str:
    """Return a namespace DISCONNECT packet."""
    return _prefix("41", namespace)


def event_frame(namespace: str, event: str, data: Any, ack: int | None = None) -> str:
    """Return an EVENT packet ``42<ns>,<ack>["event", data]``."""
    ack_text = "" if ack is None else str(ack)
    return _prefix("42", namespace) + ack_text + _encode([event, data]).decode()


def error_frame(namespace: str, message: str) -> str:
    """Return a CONNECT_ERROR packet."""
    return _prefix("44", namespace) + _encode({"message": message}).decode()


def ack_frame(namespace: str, ack: int, *args: Any) -> str:
    """Return an ACK packet ``43<ns>,<ack>[args...]`` answering an event sent with ``ack``."""
    return _prefix("43", namespace) + str(ack) + _encode(list(args)).decode()
