"""A sharded WebSocket session: many keys over several sockets, each reconnecting by itself.

Keys (a venue's poll keys) are packed into shards of at most ``max_keys_per_conn``; each
shard is one connection with its own task. The venue supplies ``WsHooks``: the frames that
open a subscription, add or remove keys on the open socket, the keepalive it expects and
how its reply looks. The engine never parses data: every frame goes to the sink raw, with
its receive stamp.

Faults it survives: a refused or dropped connection (reconnect after exponential backoff
with full jitter, re-subscribing the shard's current keys); a socket that still answers
the keepalive but sends no data (the per-connection silence watchdog reconnects it); a
venue that cannot add or remove keys on an open socket (the hooks return None, the shard
reconnects with its new set). Each loss is reported as ``disconnected`` with the shard's
keys — their books are stale until fresh snapshots arrive — then ``connected`` again.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from pmtape.core.clock import mono_s
from pmtape.net.backoff import Backoff
from pmtape.net.session import FrameSink, VenueSession

log = logging.getLogger(__name__)
_DATA = (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)
_LOOP_STEP_S = 0.004
"""How long all sockets together handle buffered frames before the event loop runs others:
each socket yields after its share of this (at least ``_STEP_MIN_S``)."""
_STEP_MIN_S = 0.0002


class WsHooks(abc.ABC):
    """What a venue tells the engine: its subscription frames and its keepalive."""

    @abc.abstractmethod
    def initial_messages(self, keys: Sequence[str]) -> list[str]:
        """Return the frames to send right after connecting, for these keys."""

    @abc.abstractmethod
    def subscribe_messages(self, keys: Sequence[str]) -> list[str] | None:
        """Return frames adding keys on the open socket, or None if the venue cannot."""

    @abc.abstractmethod
    def unsubscribe_messages(self, keys: Sequence[str]) -> list[str] | None:
        """Return frames removing keys on the open socket, or None if the venue cannot."""

    def resync_messages(self, keys: Sequence[str]) -> list[str] | None:
        """Return frames that make the venue resend full books (default: drop and re-add)."""
        drop = self.unsubscribe_messages(keys)
        add = self.subscribe_messages(keys)
        return None if drop is None or add is None else drop + add

    def keepalive_message(self) -> str | None:
        """Return the application-level keepalive to send periodically (None: none)."""
        return None

    def is_keepalive_reply(self, payload: bytes) -> bool:
        """Return whether a frame is the venue's keepalive reply (not data)."""
        return False


@dataclass(frozen=True, kw_only=True)
class WsSettings:
    """Numbers of one venue's WebSocket: where, how many keys a socket, how patient."""

    url: str
    stream: str = "ws"
    max_keys_per_conn: int = 200
    keepalive_s: float = 10.0
    data_silence_s: float = 120.0
    """Reconnect a socket that delivered no data frame for this long (0: never)."""
    connect_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    backoff_reset_s: float = 10.0
    """A socket that stayed up this long reconnects from the base delay again."""
    max_frame_bytes: int = 16 * 1024 * 1024
    dynamic_subscribe: bool = True
    """False: every change of a shard's keys reconnects it with the new set."""


class _Shard:
    def __init__(self, index: int, stream: str, backoff: Backoff) -> None:
        self.index = index
        self.stream = stream
        self.backoff = backoff
        self.keys: set[str] = set()
        self.live: set[str] = set()
        self.ws: aiohttp.ClientWebSocketResponse[bool] | None = None
        self.task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()
        self.end_reason = ""
        self.closing: asyncio.Task[bool] | None = None
        self.last_data = 0.0
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
        return True

    def drop(self, reason: str) -> None:
        """Start closing the current socket; the shard's loop then reconnects.

        The close handshake runs in the background: whoever asked (a subscribe call, the
        watchdog) never waits for a venue that is slow to answer it.
        """
        ws = self.ws
        if ws is not None and not self.end_reason:
            self.end_reason = reason
            self.closing = asyncio.create_task(ws.close())


class ShardedWsSession(VenueSession):
    """A venue session over sharded WebSocket connections, driven by the venue's hooks."""

    def __init__(
        self, settings: WsSettings, hooks: WsHooks, *, rng: random.Random | None = None
    ) -> None:
        if settings.max_keys_per_conn < 1:
            raise ValueError("max_keys_per_conn must be >= 1")
        self.settings = settings
        self.hooks = hooks
        self._rng = rng or random.Random()
        self._shards: list[_Shard] = []
        self._shard_of: dict[str, _Shard] = {}
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
        added: dict[_Shard, list[str]] = {}
        for key in new:
            shard = self._shard_with_room()
            shard.keys.add(key)
            self._shard_of[key] = shard
            added.setdefault(shard, []).append(key)
        for shard, shard_keys in added.items():
            if shard.task is None:
                self._start(shard)
            else:
                await self._change(shard, shard_keys, self.hooks.subscribe_messages, add=True)
        self._event("subscribed", {"count": len(new), "total": len(self._shard_of)})

    async def unsubscribe(self, keys: Sequence[str]) -> None:
        """Remove keys; a shard left empty is closed."""
        removed: dict[_Shard, list[str]] = {}
        for key in dict.fromkeys(keys):
            shard = self._shard_of.pop(key, None)
            if shard is not None:
                shard.keys.discard(key)
                removed.setdefault(shard, []).append(key)
        for shard, shard_keys in removed.items():
            if not shard.keys:
                await self._close_shard(shard)
            else:
                await self._change(shard, shard_keys, self.hooks.unsubscribe_messages, add=False)
        count = sum(map(len, removed.values()))
        self._event("unsubscribed", {"count": count, "total": len(self._shard_of)})

    async def resync(self, keys: Sequence[str], *, reconnect: bool = False) -> None:
        """Ask for fresh full books of these keys (re-subscribe, or reconnect their shards)."""
        by_shard: dict[_Shard, list[str]] = {}
        for key in keys:
            shard = self._shard_of.get(key)
            if shard is not None:
                by_shard.setdefault(shard, []).append(key)
        for shard, shard_keys in by_shard.items():
            shard.stats["resyncs"] += len(shard_keys)
            frames = None if reconnect else self.hooks.resync_messages(shard_keys)
            async with shard.lock:
                sent = frames is not None and shard.ws is not None and await shard.send(frames)
            if not sent and shard.ws is not None:
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

    def _shard_with_room(self) -> _Shard:
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
        shard = _Shard(index, f"{st.stream}/{index}", backoff)
        self._shards.append(shard)
        return shard

    def _start(self, shard: _Shard) -> None:
        if self._sink is not None and shard.task is None and shard.keys:
            shard.task = asyncio.create_task(self._shard_loop(shard), name=shard.stream)

    async def _change(
        self,
        shard: _Shard,
        keys: list[str],
        build: Callable[[Sequence[str]], list[str] | None],
        *,
        add: bool,
    ) -> None:
        frames = build(keys) if self.settings.dynamic_subscribe else None
        async with shard.lock:
            if shard.ws is None:
                return  # not connected: the next connect subscribes the shard's whole set
            if frames is not None and await shard.send(frames):
                if add:
                    shard.live.update(keys)
                else:
                    shard.live.difference_update(keys)
                return
        shard.stats["resubscribe_reconnects"] += 1
        shard.drop("resubscribe")

    async def _close_shard(self, shard: _Shard) -> None:
        self._shards.remove(shard)  # first, so no key is placed on it while it stops
        await self._stop(shard)

    async def _stop(self, shard: _Shard) -> None:
        task, shard.task = shard.task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _shard_loop(self, shard: _Shard) -> None:
        while True:
            ws, error, status = await self._connect(shard)
            if ws is None:
                attempt = shard.backoff.attempt
                delay = shard.backoff.next_delay()
                detail = {"error": error, "attempt": attempt, "retry_in_s": round(delay, 3)}
                if status is not None:  # the upgrade was answered with an HTTP error status
                    detail["http_status"] = status
                self._event("error", detail, shard)
                await asyncio.sleep(delay)
                continue
            try:
                await self._pump(shard, ws)
            finally:
                keys = sorted(shard.live | shard.keys)
                shard.ws = None
                shard.live = set()
                closing, shard.closing = shard.closing, None
                if closing is None and not ws.closed:
                    closing = asyncio.ensure_future(ws.close())
                if closing is not None:
                    await asyncio.shield(closing)
                self._event("disconnected", {"keys": keys, "reason": shard.end_reason}, shard)
            if shard.end_reason == "resubscribe":
                continue  # a deliberate reconnect with the new set: no penalty
            await asyncio.sleep(shard.backoff.next_delay())

    async def _connect(
        self, shard: _Shard
    ) -> tuple[aiohttp.ClientWebSocketResponse[bool] | None, str, int | None]:
        st = self.settings
        if self._http is None:
            raise RuntimeError("the session is not running")
        try:
            ws = await self._http.ws_connect(
                st.url,
                autoping=True,
                heartbeat=None,
                max_msg_size=st.max_frame_bytes,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=st.close_timeout_s),
                decode_text=False,
                compress=0,
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            shard.stats["connect_failures"] += 1
            status = exc.status if isinstance(exc, aiohttp.WSServerHandshakeError) else None
            return None, repr(exc)[:200], status
        async with shard.lock:
            shard.ws = ws
            keys = sorted(shard.keys)
            shard.live = set(keys)
            shard.end_reason = ""
            sent = await shard.send(self.hooks.initial_messages(keys))
        if not sent:
            shard.ws = None
            await ws.close()
            return None, "could not send the subscription", None
        shard.stats["connects"] += 1
        shard.backoff.succeeded()
        shard.last_data = mono_s()
        self._event("connected", {"keys": len(keys), "connects": shard.stats["connects"]}, shard)
        return ws, "", None

    async def _pump(self, shard: _Shard, ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        watchdog = asyncio.create_task(self._watchdog(shard, ws), name=f"{shard.stream}-watchdog")
        sink = self._sink
        is_reply = self.hooks.is_keepalive_reply
        stats = shard.stats
        stream = shard.stream
        step_end = time.perf_counter() + self._step_s()
        try:
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
                if is_reply(payload):
                    stats["keepalive_replies"] += 1
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
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog

    def _step_s(self) -> float:
        # Every busy socket may take its step in the same loop iteration: share the budget.
        return max(_STEP_MIN_S, _LOOP_STEP_S / max(1, len(self._shards)))

    async def _watchdog(self, shard: _Shard, ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        st = self.settings
        ping = self.hooks.keepalive_message()
        silence = st.data_silence_s
        tick = min(x for x in (st.keepalive_s, silence / 4 or 1.0, 1.0) if x > 0)
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
                shard.stats["silent_reconnects"] += 1
                shard.drop("data silence")
                return

    def _event(self, kind: str, detail: dict[str, Any], shard: _Shard | None = None) -> None:
        if self._sink is not None:
            stream = shard.stream if shard is not None else self.settings.stream
            self._sink.on_session_event(stream, kind, detail)
