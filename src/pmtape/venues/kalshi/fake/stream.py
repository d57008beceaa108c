"""The fake Kalshi's WebSocket: signed upgrades, commands, per-sid sequences, faults.

The upgrade must carry the three ``KALSHI-ACCESS-*`` headers with a valid RSA-PSS signature
of ``timestamp + "GET" + path`` by a known key (else 401, counted). Commands follow §2.6.2:
``subscribe`` opens one sid per channel (``orderbook_delta`` needs tickers and starts with
one ``orderbook_snapshot`` per ticker; ``trade`` and ``ticker`` without tickers stream every
market; ``ticker`` frames have no ``seq``), ``update_subscription`` takes exactly one sid
(``sids: [n]`` or ``sid: n``) and its ``action`` inside ``params`` (``add_markets``,
``delete_markets``, ``get_snapshot``), ``unsubscribe`` takes sids. Snapshots, deltas and
``ok`` replies share one ``seq`` per sid. The server pings every ``ping_interval_s`` with the
body ``heartbeat`` and keeps doing so while told to be silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web
from cryptography.hazmat.primitives.asymmetric import rsa

from pmtape.core.clock import now_ms
from pmtape.venues.kalshi import constants as k
from pmtape.venues.kalshi.auth import signing_message, verify
from pmtape.venues.kalshi.fake.faults import KalshiFakeFaults
from pmtape.venues.kalshi.fake.wire import WireEvent
from pmtape.venues.kalshi.messages import SnapshotBody

_encode = msgspec.json.Encoder().encode
_CHANNELS = frozenset({k.CHANNEL_BOOK, k.CHANNEL_TRADE, k.CHANNEL_TICKER, k.CHANNEL_LIFECYCLE})
Snapshots = Callable[[str], SnapshotBody | None]
"""ticker -> its current book as an ``orderbook_snapshot`` body (None: no such market)."""


class _CommandError(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class _Sub:
    __slots__ = ("channel", "delivered", "every_market", "seq", "sid", "tickers")

    def __init__(self, sid: int, channel: str, tickers: list[str]) -> None:
        self.sid = sid
        self.channel = channel
        self.tickers: dict[str, None] = dict.fromkeys(tickers)
        # Public channels subscribed without tickers stream every market (§2.6.2).
        self.every_market = not tickers and channel != k.CHANNEL_BOOK
        self.seq = 0
        self.delivered = 0

    def covers(self, event: WireEvent) -> bool:
        return self.channel == event.kind and (self.every_market or event.ticker in self.tickers)


class _Conn:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.subs: dict[int, _Sub] = {}
        self.next_sid = 1
        self.out: deque[bytes] = deque()
        self.wake = asyncio.Event()

    def push(self, frame: bytes) -> None:
        self.out.append(frame)
        self.wake.set()

    async def write_loop(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.out:
                await self.ws.send_frame(self.out.popleft(), WSMsgType.TEXT)


class KalshiChannel:
    """Every socket of the fake and what each one is subscribed to."""

    def __init__(
        self,
        snapshots: Snapshots,
        faults: KalshiFakeFaults,
        rng: random.Random,
        keys: dict[str, rsa.RSAPublicKey],
    ) -> None:
        self._snapshots = snapshots
        self.faults = faults
        self._rng = rng
        self.keys = keys
        self.conns: list[_Conn] = []
        self.stats: Counter[str] = Counter()
        self._gap_once: set[str] = set()

    # -- sockets -------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Check the signed upgrade, then serve one socket until it closes."""
        self.stats["handshakes"] += 1
        refused = self._auth_error(request)
        if refused:
            self.stats["auth_rejected"] += 1
            self.stats[f"auth_rejected_{refused}"] += 1
            body = {"code": "authentication_error", "message": refused, "service": "auth"}
            return web.Response(status=401, body=_encode(body), content_type="application/json")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        conn = _Conn(ws)
        self.stats["connections"] += 1
        self.conns.append(conn)
        writer = asyncio.create_task(conn.write_loop())
        pinger = asyncio.create_task(self._ping_loop(ws))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            self.conns.remove(conn)
            for task in (writer, pinger):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await task
        return ws

    def _auth_error(self, request: web.Request) -> str:
        headers = request.headers
        key_id = headers.get(k.HEADER_KEY, "")
        stamp = headers.get(k.HEADER_TIMESTAMP, "")
        signature = headers.get(k.HEADER_SIGNATURE, "")
        if not (key_id and stamp and signature):
            return "missing"
        public = self.keys.get(key_id)
        if public is None:
            return "unknown_key"
        if not stamp.isdigit() or abs(now_ms() - int(stamp)) > self.faults.max_skew_ms:
            return "timestamp"
        if not verify(public, signing_message(int(stamp), "GET", request.path), signature):
            return "signature"
        return ""

    async def _ping_loop(self, ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            await asyncio.sleep(self.faults.ping_interval_s)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.ping(b"heartbeat")
                self.stats["pings"] += 1

    async def drop_all(self) -> None:
        """Close every socket (the "drop connections every N s" fault)."""
        for conn in list(self.conns):
            self.stats["dropped"] += 1
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"fake drop")

    def idle(self) -> bool:
        """Return whether every socket has sent everything queued for it."""
        return all(not c.out and not c.wake.is_set() for c in self.conns)

    def inject_gap(self, ticker: str) -> None:
        """Lose the next ``orderbook_delta`` of ``ticker`` on every socket (seq consumed)."""
        self._gap_once.add(ticker)

    # -- commands ------------------------------------------------------------------------------

    def _on_text(self, conn: _Conn, text: str) -> None:
        try:
            req: Any = msgspec.json.decode(text)
        except msgspec.DecodeError:
            req = None
        if not isinstance(req, dict):
            self._error(conn, 0, k.ERR_UNPROCESSABLE, "Unable to process message")
            return
        raw_id = req.get("id")
        cmd_id = raw_id if isinstance(raw_id, int) else 0
        cmd = req.get("cmd")
        self.stats[f"cmd_{cmd}"] += 1
        handler = {
            k.CMD_SUBSCRIBE: self._subscribe,
            k.CMD_UPDATE: self._update,
            k.CMD_UNSUBSCRIBE: self._unsubscribe,
            k.CMD_LIST: self._list,
        }.get(cmd if isinstance(cmd, str) else "")
        try:
            if handler is None:
                raise _CommandError(k.ERR_UNKNOWN_CMD, "Unknown command")
            handler(conn, cmd_id, req)
        except _CommandError as exc:
            self._error(conn, cmd_id, exc.code, exc.text)

    def _error(self, conn: _Conn, cmd_id: int, code: int, text: str) -> None:
        self.stats[f"error_{code}"] += 1
        conn.push(_encode({"id": cmd_id, "type": "error", "msg": {"code": code, "msg": text}}))

    def _subscribe(self, conn: _Conn, cmd_id: int, req: dict[str, Any]) -> None:
        params = _params(req)
        channels = params.get("channels")
        if not isinstance(channels, list) or not channels:
            raise _CommandError(k.ERR_CHANNELS, "Channels required")
        if any(c not in _CHANNELS for c in channels):
            raise _CommandError(k.ERR_UNKNOWN_CHANNEL, "Unknown channel name")
        tickers = _tickers(params)
        if k.CHANNEL_BOOK in channels and not tickers:
            raise _CommandError(k.ERR_TICKER_REQUIRED, "Market ticker required")
        if any(self._snapshots(t) is None for t in tickers):
            raise _CommandError(k.ERR_MARKET_NOT_FOUND, "Market not found")
        for channel in channels:
            sub = _Sub(conn.next_sid, channel, tickers)
            conn.next_sid += 1
            conn.subs[sub.sid] = sub
            self.stats["subscriptions"] += 1
            reply = {
                "id": cmd_id,
                "type": "subscribed",
                "msg": {"channel": channel, "sid": sub.sid},
            }
            conn.push(_encode(reply))
            if channel == k.CHANNEL_BOOK:
                self._send_snapshots(conn, sub, tickers)

    def _update(self, conn: _Conn, cmd_id: int, req: dict[str, Any]) -> None:
        params = _params(req)
        action = params.get("action")
        if action is None:
            raise _CommandError(k.ERR_ACTION_REQUIRED, "Action required")
        sids = params.get("sids", [params["sid"]] if "sid" in params else [])
        if not isinstance(sids, list) or len(sids) != 1:
            raise _CommandError(k.ERR_ONE_SID, "Exactly one subscription ID is required")
        sub = conn.subs.get(sids[0])
        if sub is None:
            raise _CommandError(k.ERR_UNKNOWN_SID, "Unknown subscription ID")
        tickers = _tickers(params)
        if action == k.ACTION_ADD:
            sub.tickers.update(dict.fromkeys(tickers))
        elif action == k.ACTION_DELETE:
            for ticker in tickers:
                sub.tickers.pop(ticker, None)
        elif action == k.ACTION_SNAPSHOT:
            if self.faults.refuse_snapshot:
                raise _CommandError(k.ERR_ACTION_UNSUPPORTED, "Unsupported action")
            self.stats["snapshot_requests"] += 1
        else:
            raise _CommandError(k.ERR_ACTION_UNSUPPORTED, "Unsupported action")
        sub.seq += 1
        reply = {"id": cmd_id, "sid": sub.sid, "seq": sub.seq, "type": "ok"}
        conn.push(_encode({**reply, "msg": {"market_tickers": list(sub.tickers)}}))
        if action != k.ACTION_DELETE and sub.channel == k.CHANNEL_BOOK:
            self._send_snapshots(conn, sub, [t for t in tickers if t in sub.tickers])

    def _unsubscribe(self, conn: _Conn, cmd_id: int, req: dict[str, Any]) -> None:
        sids = _params(req).get("sids")
        if not isinstance(sids, list) or not sids:
            raise _CommandError(k.ERR_SIDS, "Subscription IDs required")
        for sid in sids:
            sub = conn.subs.pop(sid, None)
            if sub is None:
                raise _CommandError(k.ERR_UNKNOWN_SID, "Unknown subscription ID")
            sub.seq += 1
            conn.push(_encode({"id": cmd_id, "sid": sid, "seq": sub.seq, "type": "unsubscribed"}))

    def _list(self, conn: _Conn, cmd_id: int, req: dict[str, Any]) -> None:
        subs = [{"channel": s.channel, "sid": s.sid} for s in conn.subs.values()]
        conn.push(_encode({"id": cmd_id, "type": "ok", "msg": subs}))

    def _send_snapshots(self, conn: _Conn, sub: _Sub, tickers: list[str]) -> None:
        if self.faults.silent:
            return
        for ticker in tickers:
            body = self._snapshots(ticker)
            if body is not None:
                sub.seq += 1
                msg = {"type": k.MSG_SNAPSHOT, "sid": sub.sid, "seq": sub.seq, "msg": body}
                conn.push(_encode(msg))
                self.stats["snapshots"] += 1

    # -- fan-out -------------------------------------------------------------------------------

    def dispatch(self, events: list[WireEvent]) -> None:
        """Send one tick's messages to every subscription that covers their tickers."""
        if self.faults.silent or not events:
            return
        lost = {e.ticker for e in events if e.kind == k.MSG_DELTA} & self._gap_once
        for conn in self.conns:
            to_lose = set(lost)  # one delta per ticker and socket
            for event in events:
                lose = event.kind == k.MSG_DELTA and event.ticker in to_lose
                to_lose.discard(event.ticker if lose else "")
                for sub in conn.subs.values():
                    if sub.covers(event):
                        self._send(conn, sub, event, lose)
            self._noise(conn)
        self._gap_once -= lost

    def _send(self, conn: _Conn, sub: _Sub, event: WireEvent, lose: bool) -> None:
        if event.kind == k.MSG_TICKER:  # the ticker channel carries no seq
            conn.push(_encode({"type": event.kind, "sid": sub.sid, "msg": event.body}))
            self.stats["frames"] += 1
            return
        sub.seq += 1
        if event.kind == k.MSG_DELTA:
            sub.delivered += 1
            every = self.faults.gap_every
            if lose or (every and sub.delivered % every == 0):
                self.stats["gaps_injected"] += 1
                return  # lost on the way: its seq is gone with it
        conn.push(_encode({"type": event.kind, "sid": sub.sid, "seq": sub.seq, "msg": event.body}))
        self.stats["frames"] += 1
        if self.faults.malformed_prob and self._rng.random() < self.faults.malformed_prob:
            self.stats["malformed_sent"] += 1
            conn.push(b'{"type":"orderbook_delta","sid":' + str(sub.sid).encode() + b',"seq"')

    def _noise(self, conn: _Conn) -> None:
        if conn.subs and self.faults.unknown_prob and self._rng.random() < self.faults.unknown_prob:
            self.stats["unknown_sent"] += 1
            conn.push(_encode({"type": "orderbook_summary_v9", "msg": {"ts_ms": now_ms()}}))


def _params(req: dict[str, Any]) -> dict[str, Any]:
    params = req.get("params")
    if not isinstance(params, dict):
        if "action" in req:
            raise _CommandError(k.ERR_ACTION_REQUIRED, "Action required")
        raise _CommandError(k.ERR_PARAMS, "Params required")
    return params


def _tickers(params: dict[str, Any]) -> list[str]:
    many = params.get("market_tickers")
    one = params.get("market_ticker")
    if isinstance(many, list):
        return [t for t in many if isinstance(t, str)]
    return [one] if isinstance(one, str) and one else []
