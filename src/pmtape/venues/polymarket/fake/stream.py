"""The fake's market channel: subscriptions, initial dumps, fan-out, keepalive and faults.

A socket says which tokens it wants in its first frame (``type: market``) and may add or
remove tokens with ``operation`` frames; tokens past the per-socket cap are accepted and
then silently never served, as on the venue. Each tick's messages go to every socket that
serves their tokens: a ``price_change`` carries only the items of tokens the socket serves,
consecutive messages of one market travel as one JSON array, and sockets that asked for the
custom feature also get ``best_bid_ask`` when a token's top moves. ``PING`` is answered
with ``PONG`` even while the fake is told to be silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.abc import AbstractStreamWriter

from pmtape.core.fixed import format_e6, parse_e6
from pmtape.venues.polymarket.constants import PONG
from pmtape.venues.polymarket.fake.faults import FakeFaults
from pmtape.venues.polymarket.messages import (
    BestBidAskMsg,
    BookMsg,
    MarketMessage,
    MarketResolvedMsg,
    NewMarketMsg,
    PriceChangeMsg,
)

_encode = msgspec.json.Encoder().encode
_FRAME_MAX_MESSAGES = 50
_WRITE_BATCH = 512  # frames per transport write at most
_HEADER16 = struct.Struct("!BBH").pack
_HEADER64 = struct.Struct("!BBQ").pack
_SPREADS: dict[tuple[str, str], str] = {}
_SPREADS_MAX = 1 << 16
BookSource = Callable[[list[str]], list[BookMsg]]
"""Fresh ``book`` messages for tokens (inactive tokens are left out)."""


class _Conn:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        index: int,
        stats: Counter[str],
        transport: asyncio.Transport | None = None,
        writer: AbstractStreamWriter | None = None,
    ) -> None:
        self.ws = ws
        self.stats = stats
        self.index = index
        self.transport = transport
        self.writer = writer
        self.subs: dict[str, None] = {}
        self.served: set[str] = set()
        self.routed: set[str] = set()  # the tokens the channel's index routes to this socket
        self.custom = False
        self.out: deque[tuple[bytes, str | None]] = deque()
        self.wake = asyncio.Event()
        self.tops: dict[str, tuple[str, str]] = {}
        self.frames_sent = 0

    def push(self, frame: bytes, fault: str | None = None) -> None:
        """Queue a frame; an injected fault is counted when it is actually sent."""
        self.out.append((frame, fault))
        self.wake.set()

    async def write_loop(self) -> None:
        """Send what is queued, in order, until cancelled (or the socket fails)."""
        transport, writer = self.transport, self.writer
        if transport is None or writer is None or self.ws.compress:
            await self._send_frames()
        else:
            await self._write_frames(transport, writer)

    async def _send_frames(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.out:
                frame, fault = self.out.popleft()
                await self.ws.send_frame(frame, WSMsgType.TEXT)
                self.frames_sent += 1
                if fault is not None:
                    self.stats[f"{fault}_delivered"] += 1

    async def _write_frames(
        self, transport: asyncio.Transport, writer: AbstractStreamWriter
    ) -> None:
        # Uncompressed text frames are written whole, as aiohttp's writer would, but every
        # frame queued in a tick goes in one transport write (one syscall, not one each).
        out = self.out
        stats = self.stats
        ws = self.ws
        while True:
            await self.wake.wait()
            self.wake.clear()
            while out:
                if ws.closed or transport.is_closing():
                    raise ConnectionResetError("the socket is closing")
                n = min(len(out), _WRITE_BATCH)
                chunks: list[bytes] = []
                for _ in range(n):
                    frame, fault = out.popleft()
                    chunks.append(_text_header(len(frame)))
                    chunks.append(frame)
                    if fault is not None:
                        stats[f"{fault}_delivered"] += 1
                transport.write(b"".join(chunks))
                self.frames_sent += n
                await writer.drain()  # waits only while the client reads slower than we send


def _text_header(size: int) -> bytes:
    """Return the header of a final, unmasked text frame of ``size`` bytes (RFC 6455 5.2)."""
    if size < 126:
        return bytes((0x81, size))
    if size < 65536:
        return _HEADER16(0x81, 126, size)
    return _HEADER64(0x81, 127, size)


class MarketChannel:
    """Every socket of the fake's market channel and what each one is served."""

    def __init__(self, books: BookSource, faults: FakeFaults, rng: random.Random) -> None:
        self._books = books
        self.faults = faults
        self._rng = rng
        self.conns: list[_Conn] = []
        self._routes: dict[str, list[_Conn]] = {}  # token -> the sockets that serve it
        self._count = 0
        self.stats: Counter[str] = Counter()

    # -- sockets -------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one market-channel socket until it closes."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=4 * 1024 * 1024)
        stream = await ws.prepare(request)
        conn = _Conn(ws, self._count, self.stats, request.transport, stream)
        self._count += 1
        self.stats["connections"] += 1
        self.conns.append(conn)
        writer = asyncio.create_task(conn.write_loop())
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            self.conns.remove(conn)
            self._detach(conn)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await writer
        return ws

    async def drop_all(self) -> None:
        """Close every socket (the "drop connections every N s" fault)."""
        for conn in list(self.conns):
            self.stats["dropped"] += 1
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"fake drop")

    def idle(self) -> bool:
        """Return whether every socket has sent everything queued for it."""
        return all(not c.out and not c.wake.is_set() for c in self.conns)

    def served_counts(self) -> list[int]:
        """Return how many tokens each open socket is served."""
        return [len(c.served) for c in self.conns]

    def _on_text(self, conn: _Conn, text: str) -> None:
        if text == "PING":
            self.stats["pings"] += 1
            conn.push(PONG)
            return
        try:
            req: Any = msgspec.json.decode(text)
        except msgspec.DecodeError:
            self.stats["bad_client_frames"] += 1
            return
        if not isinstance(req, dict) or not isinstance(req.get("assets_ids"), list):
            self.stats["bad_client_frames"] += 1
            return
        assets = [a for a in req["assets_ids"] if isinstance(a, str)]
        custom = req.get("custom_feature_enabled") is True
        dump = req.get("initial_dump", True) is not False
        if str(req.get("type", "")).lower() == "market":
            self.stats["subscriptions"] += 1
            conn.subs = dict.fromkeys(assets)
            conn.custom = custom
            self._reserve(conn, dump)
        elif req.get("operation") in ("subscribe", "unsubscribe") and self.faults.dynamic_ops:
            op = req["operation"]
            self.stats[f"op_{op}"] += 1
            if op == "subscribe":
                conn.subs.update(dict.fromkeys(assets))
                conn.custom = conn.custom or custom
            else:
                for asset in assets:
                    conn.subs.pop(asset, None)
            self._reserve(conn, dump and self.faults.dump_on_operation)
        else:
            self.stats["ignored_client_frames"] += 1

    def _reserve(self, conn: _Conn, dump: bool) -> None:
        # Past the cap, tokens are accepted and then silently never served.
        cap = self.faults.max_assets_per_conn
        served = set(list(conn.subs)[:cap])
        new = [a for a in conn.subs if a in served and a not in conn.served]
        conn.served = served
        self._route(conn, served)
        for gone in [a for a in conn.tops if a not in served]:
            del conn.tops[gone]
        if dump and new and not self.faults.silent:
            books = self._books(new)
            for i in range(0, len(books), _FRAME_MAX_MESSAGES):
                chunk = books[i : i + _FRAME_MAX_MESSAGES]
                conn.push(_encode(chunk) if len(chunk) > 1 else _encode(chunk[0]))

    def _route(self, conn: _Conn, served: set[str]) -> None:
        routes = self._routes
        for gone in conn.routed - served:
            self._unroute(conn, gone)
        for added in served - conn.routed:
            routes.setdefault(added, []).append(conn)
        conn.routed = set(served)

    def _unroute(self, conn: _Conn, asset: str) -> None:
        conns = self._routes.get(asset)
        if conns is not None:
            conns.remove(conn)
            if not conns:
                del self._routes[asset]

    def _detach(self, conn: _Conn) -> None:
        for asset in conn.routed:
            self._unroute(conn, asset)
        conn.routed = set()

    # -- fan-out -------------------------------------------------------------------------------

    def dispatch(self, msgs: list[MarketMessage], ts_ms: int) -> None:
        """Send one tick's messages to every socket serving their tokens.

        Each message goes only to the sockets the index routes its tokens to (checked
        against what each socket is served), in order, encoded once unless a socket is
        served only some of a ``price_change``'s tokens.
        """
        if self.faults.silent or not msgs:
            return
        routes = self._routes
        parts_of: dict[_Conn, list[tuple[str, bytes]]] = {}
        for msg in msgs:
            if type(msg) is PriceChangeMsg:
                self._route_price_change(msg, routes, parts_of)
                continue
            asset = getattr(msg, "asset_id", "")
            conns = routes.get(asset)
            if conns is None:
                continue
            data = b""
            for conn in conns:
                if asset not in conn.served:
                    continue
                parts = parts_of.get(conn)
                if parts is None:
                    parts = parts_of[conn] = []
                if not data:
                    data = _encode(msg)
                parts.append((msg.market, data))
                if conn.custom and type(msg) is BookMsg:
                    bid = msg.bids[-1].price if msg.bids else "0"
                    ask = msg.asks[-1].price if msg.asks else "1"
                    self._top(conn, msg.market, asset, bid, ask, msg.timestamp, parts)
        if not parts_of:
            return
        for conn in self.conns:  # in socket order, so that fault draws stay reproducible
            parts = parts_of.get(conn)
            if parts is not None:
                self._send_parts(conn, parts, ts_ms)

    def lifecycle(self, msgs: list[NewMarketMsg | MarketResolvedMsg]) -> None:
        """Send ``new_market`` to every custom socket, ``market_resolved`` to those it concerns."""
        for conn in self.conns:
            if not conn.custom or self.faults.silent:
                continue
            for msg in msgs:
                if type(msg) is NewMarketMsg or conn.served & set(msg.assets_ids):
                    conn.push(_encode(msg))
                    self.stats[f"sent_{type(msg).__name__}"] += 1

    def _route_price_change(
        self,
        msg: PriceChangeMsg,
        routes: dict[str, list[_Conn]],
        parts_of: dict[_Conn, list[tuple[str, bytes]]],
    ) -> None:
        changes = msg.price_changes
        assets = {it.asset_id for it in changes}
        targets: list[_Conn] | set[_Conn] = []
        for asset in assets:
            conns = routes.get(asset)
            if conns:
                targets = conns if not targets else {*targets, *conns}
        full = b""
        for conn in targets:
            served = conn.served
            if assets <= served:
                items = changes
                if not full:
                    full = _encode(msg)
                data = full
            elif assets & served:
                items = [it for it in changes if it.asset_id in served]
                data = _encode(
                    PriceChangeMsg(market=msg.market, price_changes=items, timestamp=msg.timestamp)
                )
            else:
                continue
            parts = parts_of.get(conn)
            if parts is None:
                parts = parts_of[conn] = []
            parts.append((msg.market, data))
            if conn.custom:
                for it in items:
                    self._top(
                        conn,
                        msg.market,
                        it.asset_id,
                        it.best_bid,
                        it.best_ask,
                        msg.timestamp,
                        parts,
                    )

    def _top(
        self,
        conn: _Conn,
        market: str,
        asset: str,
        bid: str,
        ask: str,
        ts: str,
        parts: list[tuple[str, bytes]],
    ) -> None:
        if conn.tops.get(asset) == (bid, ask):
            return
        conn.tops[asset] = (bid, ask)
        spread = _spread(bid, ask)
        bba = BestBidAskMsg(
            market=market, asset_id=asset, best_bid=bid, best_ask=ask, spread=spread, timestamp=ts
        )
        parts.append((market, _encode(bba)))

    def _send_parts(self, conn: _Conn, parts: list[tuple[str, bytes]], ts_ms: int) -> None:
        # Consecutive parts of one market travel as one frame (a JSON array of at most 50).
        faults = self.faults
        malformed = faults.malformed_prob
        rng = self._rng
        out = conn.out
        n = len(parts)
        frames = 0
        i = 0
        while i < n:
            market = parts[i][0]
            j = i + 1
            end = min(n, i + _FRAME_MAX_MESSAGES)
            while j < end and parts[j][0] == market:
                j += 1
            if j == i + 1:
                out.append((parts[i][1], None))
            else:
                out.append((b"[" + b",".join([p[1] for p in parts[i:j]]) + b"]", None))
            frames += 1
            if malformed and rng.random() < malformed:
                self.stats["malformed_sent"] += 1
                out.append(
                    (
                        b'{"event_type":"price_change","market":"' + market.encode() + b'","price_',
                        "malformed",
                    )
                )
            i = j
        self.stats["frames"] += frames
        if parts and faults.unknown_prob and rng.random() < faults.unknown_prob:
            self.stats["unknown_sent"] += 1
            frame = _encode(
                {"event_type": "order_summary_v9", "market": parts[0][0], "timestamp": str(ts_ms)}
            )
            out.append((frame, "unknown"))
        conn.wake.set()


def _spread(bid: str, ask: str) -> str:
    if bid == "0" or ask == "1":
        return "0"
    spread = _SPREADS.get((bid, ask))
    if spread is None:
        if len(_SPREADS) >= _SPREADS_MAX:
            _SPREADS.clear()
        spread = _SPREADS[bid, ask] = format_e6(parse_e6(ask) - parse_e6(bid))
    return spread
