"""The Kalshi WebSocket session: signed handshakes, per-sid sequence checks, repair by snapshot.

Tickers are packed into connections of at most ``markets_per_connection``; each connection
has its own task, backoff and subscriptions (``ws_subs.SubTable``). Every upgrade request
carries fresh ``KALSHI-ACCESS-*`` headers (§2.2). Faults and what the session does:

* refused or dropped connection: ``error`` (kind ``connect``) / ``disconnected`` with the
  connection's tickers, reconnect after exponential backoff with full jitter; every sid is
  new afterwards and the fresh snapshots repair the books;
* the handshake answered 401/403 (bad key or signature): ``error`` with kind ``auth`` and
  the next try only after ``auth_retry_s`` — never a retry storm (``VenueAuthError``
  semantics, without raising into the collector, which other venues share);
* a ``seq`` gap on an order-book sid: ``disconnected`` with that sid's tickers and reason
  ``seq_gap`` (the collector marks those books stale), then ``get_snapshot`` for them; a
  refused ``get_snapshot`` reconnects the connection;
* a dead socket: aiohttp's heartbeat pings every ``heartbeat_s`` and closes on no pong
  (the venue's own 10 s pings are answered automatically).

net/'s ShardedWsSession has no hook for per-connect handshake headers, handshake status
classification or per-connection subscription state (sids), hence this session.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from pmtape.core.errors import VenueAuthError
from pmtape.net.backoff import Backoff
from pmtape.net.session import FrameSink, VenueSession
from pmtape.venues.kalshi.auth import KalshiSigner
from pmtape.venues.kalshi.constants import CHANNEL_BOOK, CHANNEL_TRADE, MAX_FRAME_BYTES, STREAM_WS
from pmtape.venues.kalshi.ws_subs import Inspection, SubTable

_DATA = (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)
_AUTH_STATUSES = (401, 403)


@dataclass(frozen=True, kw_only=True)
class KalshiWsSettings:
    """Numbers of the Kalshi WebSocket session."""

    url: str
    stream: str = STREAM_WS
    markets_per_connection: int = 500
    markets_per_subscription: int = 100
    trades: bool = True
    heartbeat_s: float = 20.0
    connect_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    backoff_reset_s: float = 30.0
    auth_retry_s: float = 900.0
    max_frame_bytes: int = MAX_FRAME_BYTES


class _Conn:
    def __init__(self, index: int, stream: str, backoff: Backoff, table: SubTable) -> None:
        self.index = index
        self.stream = stream
        self.backoff = backoff
        self.table = table
        self.keys: set[str] = set()
        self.ws: aiohttp.ClientWebSocketResponse[bool] | None = None
        self.task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()
        self.end_reason = ""
        self.stats: Counter[str] = Counter()

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

    async def drop(self, reason: str) -> None:
        ws = self.ws
        if ws is not None and not self.end_reason:
            self.end_reason = reason
            await ws.close()


class KalshiWsSession(VenueSession):
    """Order books (and trades) of Kalshi tickers over signed WebSocket connections."""

    def __init__(
        self, settings: KalshiWsSettings, signer: KalshiSigner, *, rng: random.Random | None = None
    ) -> None:
        if settings.markets_per_connection < 1 or settings.markets_per_subscription < 1:
            raise ValueError("markets_per_connection and markets_per_subscription must be >= 1")
        self.settings = settings
        self._signer = signer
        self._sign_path = urlsplit(settings.url).path or "/"
        self._rng = rng or random.Random()
        self._channels = (CHANNEL_BOOK, CHANNEL_TRADE) if settings.trades else (CHANNEL_BOOK,)
        self._ids = itertools.count(1)
        self._conns: list[_Conn] = []
        self._conn_of: dict[str, _Conn] = {}
        self._sink: FrameSink | None = None
        self._http: aiohttp.ClientSession | None = None
        self._next_index = 0

    # -- the VenueSession surface ------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether at least one connection is up."""
        return any(c.ws is not None for c in self._conns)

    @property
    def subscriptions(self) -> frozenset[str]:
        """Return every ticker currently wanted."""
        return frozenset(self._conn_of)

    async def run(self, sink: FrameSink) -> None:
        """Run every connection until cancelled."""
        self._sink = sink
        self._http = aiohttp.ClientSession()
        try:
            for conn in self._conns:
                self._start(conn)
            await asyncio.Event().wait()
        finally:
            await self.aclose()

    async def subscribe(self, keys: Sequence[str]) -> None:
        """Add tickers: fill connections with room, open new ones for the rest."""
        new = [k for k in dict.fromkeys(keys) if k not in self._conn_of]
        added: dict[_Conn, list[str]] = {}
        for key in new:
            conn = self._conn_with_room()
            conn.keys.add(key)
            self._conn_of[key] = conn
            added.setdefault(conn, []).append(key)
        for conn, conn_keys in added.items():
            if conn.task is None:
                self._start(conn)
                continue
            async with conn.lock:
                if conn.ws is not None:
                    await conn.send(conn.table.subscribe(conn_keys))
        self._event("subscribed", {"count": len(new), "total": len(self._conn_of)})

    async def unsubscribe(self, keys: Sequence[str]) -> None:
        """Remove tickers; a connection left empty is closed."""
        removed: dict[_Conn, list[str]] = {}
        for key in dict.fromkeys(keys):
            conn = self._conn_of.pop(key, None)
            if conn is not None:
                conn.keys.discard(key)
                removed.setdefault(conn, []).append(key)
        for conn, conn_keys in removed.items():
            if not conn.keys:
                self._conns.remove(conn)
                await self._stop(conn)
                continue
            async with conn.lock:
                frames = conn.table.unsubscribe(conn_keys)
                if conn.ws is not None and frames:
                    await conn.send(frames)
        count = sum(map(len, removed.values()))
        self._event("unsubscribed", {"count": count, "total": len(self._conn_of)})

    async def resync(self, keys: Sequence[str]) -> None:
        """Ask for fresh snapshots of these tickers (``get_snapshot``, else a reconnect)."""
        by_conn: dict[_Conn, list[str]] = {}
        for key in keys:
            conn = self._conn_of.get(key)
            if conn is not None:
                by_conn.setdefault(conn, []).append(key)
        for conn, conn_keys in by_conn.items():
            async with conn.lock:
                frames = conn.table.snapshot(conn_keys)
                failed = bool(frames) and conn.ws is not None and not await conn.send(frames)
            if failed:
                await conn.drop("resync")
        self._event("resync", {"keys": list(keys)})

    async def aclose(self) -> None:
        """Close every connection and the HTTP session (idempotent)."""
        for conn in list(self._conns):
            await self._stop(conn)
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    def conn_stats(self) -> list[dict[str, Any]]:
        """Return per-connection counters: keys, connects, gaps, snapshot requests, ..."""
        out = []
        for c in self._conns:
            row: dict[str, Any] = {"conn": c.index, "keys": len(c.keys), "up": c.ws is not None}
            row.update(c.stats)
            row.update(c.table.stats)
            out.append(row)
        return out

    # -- connections --------------------------------------------------------------------------

    def _conn_with_room(self) -> _Conn:
        st = self.settings
        for conn in self._conns:
            if len(conn.keys) < st.markets_per_connection:
                return conn
        index = self._next_index
        self._next_index += 1
        backoff = Backoff(
            st.backoff_base_s,
            st.backoff_max_s,
            reset_after_s=st.backoff_reset_s,
            rng=random.Random(self._rng.random()),
        )
        table = SubTable(self._channels, st.markets_per_subscription, self._ids)
        conn = _Conn(index, f"{st.stream}/{index}", backoff, table)
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
            ws, error, auth, status = await self._connect(conn)
            if ws is None:
                await self._failed(conn, error, auth, status)
                continue
            try:
                await self._pump(conn, ws)
            finally:
                keys = sorted(conn.keys)
                conn.ws = None
                conn.table.reset()
                if not ws.closed:
                    await asyncio.shield(ws.close())
                reason = conn.end_reason or "stopped"
                self._event("disconnected", {"keys": keys, "reason": reason}, conn)
            await asyncio.sleep(conn.backoff.next_delay())

    async def _failed(self, conn: _Conn, error: str, auth: bool, status: int | None) -> None:
        attempt = conn.backoff.attempt
        delay = self.settings.auth_retry_s if auth else conn.backoff.next_delay()
        conn.stats["auth_refusals" if auth else "connect_failures"] += 1
        detail = {
            "kind": "auth" if auth else "connect",
            "error_type": "VenueAuthError" if auth else "VenueUnavailable",
            "error": error,
            "attempt": attempt,
            "retry_in_s": round(delay, 3),
        }
        if status is not None:  # the upgrade was answered with an HTTP error status
            detail["http_status"] = status
        self._event("error", detail, conn)
        await asyncio.sleep(delay)

    async def _connect(
        self, conn: _Conn
    ) -> tuple[aiohttp.ClientWebSocketResponse[bool] | None, str, bool, int | None]:
        st = self.settings
        if self._http is None:
            raise RuntimeError("the session is not running")
        headers = self._signer.headers("GET", self._sign_path)
        try:
            async with asyncio.timeout(st.connect_timeout_s):
                ws = await self._http.ws_connect(
                    st.url,
                    headers=headers,
                    autoping=True,
                    heartbeat=st.heartbeat_s,
                    max_msg_size=st.max_frame_bytes,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=st.close_timeout_s),
                    decode_text=False,
                    compress=0,
                )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status in _AUTH_STATUSES:
                refused = VenueAuthError(f"kalshi: WebSocket handshake refused: HTTP {exc.status}")
                return None, str(refused), True, exc.status
            return None, f"handshake failed: HTTP {exc.status}", False, exc.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return None, repr(exc)[:200], False, None
        async with conn.lock:
            conn.ws = ws
            conn.end_reason = ""
            sent = await conn.send(conn.table.subscribe(sorted(conn.keys)))
        if not sent:
            conn.ws = None
            conn.table.reset()
            await ws.close()
            return None, "could not send the subscriptions", False, None
        conn.stats["connects"] += 1
        conn.backoff.succeeded()
        detail = {"keys": len(conn.keys), "connects": conn.stats["connects"]}
        self._event("connected", detail, conn)
        return ws, "", False, None

    async def _pump(self, conn: _Conn, ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        sink = self._sink
        stats = conn.stats
        stream = conn.stream
        inspect = conn.table.inspect
        while True:
            msg = await ws.receive()
            if msg.type not in _DATA:
                if msg.type is aiohttp.WSMsgType.ERROR:
                    stats["errors"] += 1
                conn.end_reason = conn.end_reason or f"closed ({msg.type.name.lower()})"
                return
            data = msg.data
            payload = data if isinstance(data, bytes) else data.encode()
            stats["frames"] += 1
            if sink is not None:
                sink.on_frame(stream, payload, time.time_ns())
            found = inspect(payload)
            if found is not None:
                await self._act(conn, found)

    async def _act(self, conn: _Conn, found: Inspection) -> None:
        if found.gap is not None:
            sub, expected, got = found.gap
            detail = {
                "keys": sorted(sub.tickers),
                "reason": "seq_gap",
                "sid": sub.sid,
                "expected": expected,
                "got": got,
            }
            self._event("disconnected", detail, conn)
        if found.error is not None:
            self._event("error", found.error, conn)
        if found.send:
            async with conn.lock:
                await conn.send(found.send)
        if found.reconnect:
            await conn.drop(found.reconnect)

    def _event(self, kind: str, detail: dict[str, Any], conn: _Conn | None = None) -> None:
        if self._sink is not None:
            stream = conn.stream if conn is not None else self.settings.stream
            self._sink.on_session_event(stream, kind, detail)
