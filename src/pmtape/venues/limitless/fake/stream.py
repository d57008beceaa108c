"""The fake Limitless's Socket.IO server: Engine.IO handshake, ``/markets`` namespace, books.

Speaks the wire a raw client sees (§3.4): ``0{...}`` open with ``pingInterval``/
``pingTimeout``, the server's ``2`` pings (a socket that does not answer ``3`` in time is
closed), ``40/markets,`` answered with ``40/markets,{"sid"}`` and a ``system`` greeting.
An event for a namespace the socket has not connected closes the socket, as a Socket.IO
server does. ``subscribe_market_prices`` replaces the socket's set, is acknowledged with a
``system`` message listing it, and starts each newly added market with its full book; from
then on every change of a market is one ``orderbookUpdate`` with its complete book and a
venue-global ``version``. ``marketResolved`` goes out three times. ``unsubscribe``
(``{"channel", "marketSlugs"?}``, what the official SDK sends) drops those markets — every
market of the channel when none are named. An event sent with an ack id (``42/markets,7[...]``)
is answered ``43/markets,7[{...}]``; an unknown channel's ack carries ``error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import secrets
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from pmtape.core.clock import mono_s, now_ms
from pmtape.venues.limitless import sio
from pmtape.venues.limitless.constants import (
    EMIT_SUBSCRIBE,
    EV_ORDERBOOK,
    EV_RESOLVED,
    EV_SYSTEM,
    NAMESPACE,
)
from pmtape.venues.limitless.fake.faults import LimitlessFakeFaults
from pmtape.venues.limitless.fake.wire import iso
from pmtape.venues.limitless.messages import EngineOpen, Orderbook

_UNSUBSCRIBE = "unsubscribe"
_LIFECYCLE = "subscribe_market_lifecycle"

Books = Callable[[str], Orderbook | None]
"""slug -> its current book (None: no such market)."""


class _Conn:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.joined = False
        self.subs: dict[str, None] = {}
        self.lifecycle = False
        self.pong_at = mono_s()
        self.out: deque[str] = deque()
        self.wake = asyncio.Event()

    def push(self, frame: str) -> None:
        self.out.append(frame)
        self.wake.set()

    async def write_loop(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.out:
                await self.ws.send_str(self.out.popleft())


class MarketsNamespace:
    """Every Socket.IO connection of the fake and the markets each one follows."""

    def __init__(self, books: Books, faults: LimitlessFakeFaults, rng: random.Random) -> None:
        self._books = books
        self.faults = faults
        self._rng = rng
        self.conns: list[_Conn] = []
        self.stats: Counter[str] = Counter()
        self._version = itertools.count(2_000_000)

    # -- sockets -----------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one Engine.IO WebSocket until it closes."""
        q = request.query
        if q.get("EIO") != "4" or q.get("transport") != "websocket":
            self.stats["bad_handshakes"] += 1
            return web.json_response({"code": 0, "message": "Transport unknown"}, status=400)
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1_000_000)
        await ws.prepare(request)
        conn = _Conn(ws)
        self.conns.append(conn)
        self.stats["connections"] += 1
        f = self.faults
        opened = EngineOpen(
            sid=secrets.token_urlsafe(15),
            upgrades=[],
            pingInterval=f.ping_interval_ms,
            pingTimeout=f.ping_timeout_ms,
            maxPayload=1_000_000,
        )
        conn.push("0" + msgspec.json.encode(opened).decode())
        tasks = [asyncio.create_task(conn.write_loop()), asyncio.create_task(self._pinger(conn))]
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT and not await self._on_text(conn, msg.data):
                    break
        finally:
            self.conns.remove(conn)
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await task
            await ws.close()
        return ws

    async def _pinger(self, conn: _Conn) -> None:
        interval = self.faults.ping_interval_ms / 1000
        timeout = self.faults.ping_timeout_ms / 1000
        while True:
            await asyncio.sleep(interval)
            if self.faults.no_pings:
                continue
            sent = mono_s()
            conn.push("2")
            self.stats["pings"] += 1
            await asyncio.sleep(timeout)
            if conn.pong_at < sent:
                self.stats["ping_timeouts"] += 1
                await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"ping timeout")
                return

    async def drop_all(self) -> None:
        """Close every socket (the "drop connections every N s" fault)."""
        for conn in list(self.conns):
            self.stats["dropped"] += 1
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"fake drop")

    def idle(self) -> bool:
        """Return whether every socket has sent everything queued for it."""
        return all(not c.out and not c.wake.is_set() for c in self.conns)

    # -- client packets ------------------------------------------------------------------------

    async def _on_text(self, conn: _Conn, text: str) -> bool:
        packet = sio.parse(text.encode())
        if packet is None:
            self.stats["bad_client_frames"] += 1
            return True
        if packet.eio == "3":
            conn.pong_at = mono_s()
            self.stats["pongs"] += 1
            return True
        if packet.eio != "4":
            return packet.eio != "1"
        if packet.namespace != NAMESPACE:
            self.stats["unknown_namespace"] += 1
            conn.push(sio.error_frame(packet.namespace, "Invalid namespace"))
            return True
        if packet.sio == "0":
            conn.joined = True
            conn.push(sio.connect_frame(NAMESPACE, {"sid": secrets.token_urlsafe(15)}))
            greeting = {"message": "Successfully registered connection"}
            conn.push(sio.event_frame(NAMESPACE, EV_SYSTEM, greeting))
            return True
        if packet.sio == "1":
            conn.joined = False
            return True
        if not conn.joined:
            self.stats["invalid_state"] += 1  # an event before the namespace ack: dropped
            return False
        if packet.sio == "2":
            result = self._on_event(conn, packet.data)
            if packet.ack is not None:
                self.stats["acks"] += 1
                conn.push(sio.ack_frame(NAMESPACE, packet.ack, result))
        return True

    def _on_event(self, conn: _Conn, data: bytes) -> dict[str, Any]:
        """Apply one client event; return what an ack of it carries."""
        try:
            msg: Any = msgspec.json.decode(data)
        except msgspec.DecodeError:
            msg = None
        if not isinstance(msg, list) or not msg or not isinstance(msg[0], str):
            self.stats["bad_client_frames"] += 1
            return {"error": "Malformed event"}
        name, body = msg[0], (msg[1] if len(msg) > 1 else {})
        if not isinstance(body, dict):
            body = {}
        self.stats[f"emit_{name}"] += 1
        if name == EMIT_SUBSCRIBE:
            return self._subscribe(conn, _slugs(body))
        if name == _LIFECYCLE:
            conn.lifecycle = True
            return {"message": "Successfully subscribed to market lifecycle events"}
        if name == "unsubscribe_market_lifecycle":
            conn.lifecycle = False
            return {"message": "Successfully unsubscribed from market lifecycle events"}
        if name == _UNSUBSCRIBE:
            return self._unsubscribe(conn, body.get("channel"), _slugs(body))
        return {"error": f"Unknown event {name}"}

    def _subscribe(self, conn: _Conn, slugs: list[str]) -> dict[str, Any]:
        new = [s for s in slugs if s not in conn.subs]
        conn.subs = dict.fromkeys(slugs)  # replaces the previous set
        ack = {"message": "Successfully subscribed to market price updates", "markets": slugs}
        conn.push(sio.event_frame(NAMESPACE, EV_SYSTEM, ack))
        if not self.faults.silent:
            for slug in new:
                self._send_book(conn, slug, now_ms())
        return ack

    def _unsubscribe(self, conn: _Conn, channel: Any, slugs: list[str]) -> dict[str, Any]:
        if channel == EMIT_SUBSCRIBE:
            gone = slugs or list(conn.subs)
            for slug in gone:
                conn.subs.pop(slug, None)
            return {
                "message": "Successfully unsubscribed from market price updates",
                "markets": gone,
            }
        if channel == _LIFECYCLE:
            conn.lifecycle = False
            return {"message": "Successfully unsubscribed from market lifecycle events"}
        self.stats["unsubscribe_unknown_channel"] += 1
        return {"error": f"Unknown channel {channel}"}

    # -- fan-out -------------------------------------------------------------------------------

    def dispatch(self, slugs: list[str], ts_ms: int, oracle: list[str]) -> None:
        """Send the full book of each changed market to every socket following it."""
        faults = self.faults
        if faults.silent:
            return
        for conn in self.conns:
            if not conn.joined:
                continue
            for slug in slugs:
                if slug in conn.subs:
                    self._send_book(conn, slug, ts_ms)
            self._noise(conn, oracle, ts_ms)

    def resolved(self, slugs: list[str], ts_ms: int) -> None:
        """Announce resolved markets, three identical copies each (as observed)."""
        for conn in self.conns:
            for slug in slugs:
                if conn.joined and (conn.lifecycle or slug in conn.subs):
                    body = {
                        "slug": slug,
                        "type": "CLOB",
                        "winningOutcome": "YES",
                        "winningIndex": 0,
                        "resolutionDate": iso(ts_ms),
                    }
                    frame = sio.event_frame(NAMESPACE, EV_RESOLVED, body)
                    for _ in range(3):
                        conn.push(frame)
                    conn.subs.pop(slug, None)

    def _send_book(self, conn: _Conn, slug: str, ts_ms: int) -> None:
        book = self._books(slug)
        if book is None:
            return
        update = {
            "marketSlug": slug,
            "orderbook": book,
            "version": next(self._version),
            "timestamp": iso(ts_ms),
        }
        frame = sio.event_frame(NAMESPACE, EV_ORDERBOOK, update)
        conn.push(frame)
        self.stats["updates"] += 1
        rng = self._rng
        if self.faults.duplicate_prob and rng.random() < self.faults.duplicate_prob:
            self.stats["duplicates_sent"] += 1
            conn.push(frame)
        if self.faults.malformed_prob and rng.random() < self.faults.malformed_prob:
            self.stats["malformed_sent"] += 1
            conn.push(frame[: len(frame) // 2])

    def _noise(self, conn: _Conn, oracle: list[str], ts_ms: int) -> None:
        rng = self._rng
        for slug in oracle:
            if slug in conn.subs:
                body = {
                    "marketAddress": None,
                    "marketSlug": slug,
                    "source": "pyth-pro",
                    "timestamp": ts_ms,
                    "value": round(60_000 + rng.random() * 1_000, 2),
                }
                conn.push(sio.event_frame(NAMESPACE, "oraclePriceData", body))
                self.stats["oracle_sent"] += 1
        if conn.subs and self.faults.unknown_prob and rng.random() < self.faults.unknown_prob:
            self.stats["unknown_sent"] += 1
            conn.push(sio.event_frame(NAMESPACE, "orderbookDiffV9", {"ts": ts_ms}))


def _slugs(body: dict[str, Any]) -> list[str]:
    return [s for s in body.get("marketSlugs") or [] if isinstance(s, str)]
