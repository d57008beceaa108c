"""Sharded WebSocket engine against a tiny generic venue: shards, live changes, faults."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from aiohttp import web

from pmtape.net.session import HttpMeta
from pmtape.net.wsengine import ShardedWsSession, WsSettings
from pmtape.net.wsproto import WS, FrameAction, HandshakeError, WsProtocol, next_frame
from tests.helpers import eventually
from tests.net.server import free_port, serve

_PONG = FrameAction(deliver=False, live=False, count="keepalive_replies")


class LineHooks(WsProtocol):
    """A made-up venue: ``SUB a b``, ``ADD c``, ``DEL a``, keepalive ``ping`` -> ``pong``."""

    ping_frame = "ping"

    def __init__(self, dynamic: bool = True) -> None:
        self.dynamic = dynamic

    def open_frames(self, keys: Sequence[str]) -> list[str]:
        return ["SUB " + " ".join(keys)]

    def subscribe_frames(self, keys: Sequence[str]) -> list[str] | None:
        return ["ADD " + " ".join(keys)] if self.dynamic else None

    def unsubscribe_frames(self, keys: Sequence[str]) -> list[str] | None:
        return ["DEL " + " ".join(keys)] if self.dynamic else None

    def on_frame(self, payload: bytes) -> FrameAction | None:
        return _PONG if payload == b"pong" else None


class LineVenue:
    """Server side: remembers each socket's keys and what it was told; streams DATA lines."""

    def __init__(self) -> None:
        self.sockets: list[dict[str, Any]] = []
        self.silent = False
        self.log: list[str] = []
        self.tokens: list[str | None] = []
        self.greeting: str | None = None

    def open_sets(self) -> list[set[str]]:
        return [s["keys"] for s in self.sockets if not s["ws"].closed]

    async def drop_all(self) -> None:
        for s in list(self.sockets):
            await s["ws"].close()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.tokens.append(request.headers.get("X-Token"))
        if self.greeting is not None:
            await ws.send_str(self.greeting)
        state: dict[str, Any] = {"ws": ws, "keys": set()}
        self.sockets.append(state)
        feeder = asyncio.create_task(self._feed(state))
        try:
            async for msg in ws:
                text = msg.data
                self.log.append(text)
                verb, _, rest = text.partition(" ")
                keys = set(rest.split())
                if verb == "ping":
                    await ws.send_str("pong")
                elif verb == "SUB":
                    state["keys"] = keys
                elif verb == "ADD":
                    state["keys"] |= keys
                elif verb == "DEL":
                    state["keys"] -= keys
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
        return ws

    async def _feed(self, state: dict[str, Any]) -> None:
        while True:
            await asyncio.sleep(0.02)
            if not self.silent and state["keys"]:
                await state["ws"].send_str("DATA " + " ".join(sorted(state["keys"])))


class Sink:
    def __init__(self) -> None:
        self.frames: list[tuple[str, bytes]] = []
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def on_frame(self, stream: str, payload: bytes, ts_recv_ns: int) -> None:
        assert ts_recv_ns > 0
        self.frames.append((stream, payload))

    def on_http(self, stream: str, payload: bytes, ts_recv_ns: int, meta: HttpMeta) -> None:
        raise AssertionError("no HTTP here")

    def on_session_event(self, stream: str, kind: str, detail: dict[str, Any]) -> None:
        self.events.append((stream, kind, detail))

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [d for _, k, d in self.events if k == kind]


class GreetedLines(LineHooks):
    """The line venue behind a greeting: a fresh token per attempt, ``HELLO`` then ``SUB``;
    ``BYE`` ends the connection."""

    issued = 0

    def headers(self) -> dict[str, str] | None:
        GreetedLines.issued += 1
        return {"X-Token": f"t{GreetedLines.issued}"}

    async def handshake(self, ws: WS, deliver: Callable[[bytes], None]) -> None:
        frame = await next_frame(ws)
        if frame != b"HELLO":
            raise HandshakeError(f"no greeting: {frame!r}")
        deliver(frame)

    def on_frame(self, payload: bytes) -> FrameAction | None:
        return _BYE if payload == b"BYE" else super().on_frame(payload)


class ReplacingLines(GreetedLines):
    """The same, but every ``SUB`` replaces the socket's set: changes re-send the whole set."""

    replaces_set = True


_BYE = FrameAction(reconnect="venue said bye")


@contextlib.asynccontextmanager
async def running(
    venue: LineVenue | None = None, hooks: WsProtocol | None = None, **settings: Any
) -> AsyncIterator[tuple[ShardedWsSession, Sink, LineVenue]]:
    venue = venue or LineVenue()
    app = web.Application()
    app.router.add_get("/ws", venue.handle)
    async with serve(app) as base:
        url = settings.pop("url", base.replace("http", "ws") + "/ws")
        opts: dict[str, Any] = {"keepalive_s": 0.05, "backoff_base_s": 0.02, "backoff_max_s": 0.2}
        protocol = hooks or LineHooks()
        session = ShardedWsSession(
            WsSettings(url=url, **{**opts, **settings}), lambda _: protocol, rng=random.Random(7)
        )
        sink = Sink()
        task = asyncio.create_task(session.run(sink))
        try:
            yield session, sink, venue
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.mark.asyncio
async def test_keys_are_sharded_and_frames_arrive_raw_per_shard() -> None:
    async with running(max_keys_per_conn=3) as (session, sink, venue):
        await session.subscribe([f"k{i}" for i in range(7)])
        await eventually(lambda: len(venue.open_sets()) == 3 and len(sink.frames) >= 6)
        sets = venue.open_sets()
        assert all(len(s) <= 3 for s in sets)
        assert set().union(*sets) == {f"k{i}" for i in range(7)}
        assert {s for s, _ in sink.frames} >= {"ws/0", "ws/1", "ws/2"}
        assert all(p.startswith(b"DATA ") for _, p in sink.frames)
        assert session.connected
        stats = session.shard_stats()
        assert sum(s["frames"] for s in stats) >= 6
        assert all(s["bytes"] > 0 for s in stats)


@pytest.mark.asyncio
async def test_subscribe_and_unsubscribe_happen_on_the_open_socket() -> None:
    async with running(max_keys_per_conn=4) as (session, _sink, venue):
        await session.subscribe(["a", "b"])
        await eventually(lambda: venue.open_sets() == [{"a", "b"}])
        await session.subscribe(["c"])
        await session.unsubscribe(["a"])
        await eventually(lambda: venue.open_sets() == [{"b", "c"}])
        assert "ADD c" in venue.log
        assert "DEL a" in venue.log
        assert len(venue.sockets) == 1  # no reconnect needed
        await session.unsubscribe(["b", "c"])  # an empty shard is closed
        await eventually(lambda: venue.open_sets() == [])


@pytest.mark.asyncio
async def test_a_venue_without_live_changes_gets_a_reconnect_with_the_new_set() -> None:
    async with running(hooks=LineHooks(dynamic=False)) as (session, sink, venue):
        await session.subscribe(["a"])
        await eventually(lambda: venue.open_sets() == [{"a"}])
        await session.subscribe(["b"])
        await eventually(lambda: venue.open_sets() == [{"a", "b"}])
        assert len(venue.sockets) == 2
        assert any(d["reason"] == "resubscribe" for d in sink.kinds("disconnected"))


@pytest.mark.asyncio
async def test_a_dropped_socket_reports_its_keys_then_reconnects_and_resubscribes() -> None:
    async with running() as (session, sink, venue):
        await session.subscribe(["a", "b"])
        await eventually(lambda: len(sink.kinds("connected")) == 1 and len(sink.frames) > 0)
        await venue.drop_all()
        await eventually(lambda: len(sink.kinds("connected")) == 2)
        lost = sink.kinds("disconnected")
        assert lost[0]["keys"] == ["a", "b"]
        kinds = [k for _, k, _ in sink.events]
        assert kinds.index("disconnected") < len(kinds) - 1 - kinds[::-1].index("connected")
        await eventually(lambda: venue.open_sets() == [{"a", "b"}])


@pytest.mark.asyncio
async def test_a_socket_that_only_answers_keepalives_is_reconnected() -> None:
    venue = LineVenue()
    venue.silent = True
    async with running(venue, data_silence_s=0.3) as (session, sink, _):
        await session.subscribe(["a"])
        await eventually(lambda: session.shard_stats()[0].get("keepalive_replies", 0) >= 2)
        await eventually(lambda: session.shard_stats()[0].get("silent_reconnects", 0) >= 1)
        await eventually(
            lambda: any(d["reason"] == "data silence" for d in sink.kinds("disconnected"))
        )
        assert sink.frames == []  # pongs are keepalive, never data
        venue.silent = False
        await eventually(lambda: len(sink.frames) > 0)


@pytest.mark.asyncio
async def test_refused_connections_back_off_instead_of_storming() -> None:
    url = f"ws://127.0.0.1:{free_port()}/ws"
    async with running(url=url, backoff_base_s=0.02, backoff_max_s=0.16) as (session, sink, _):
        started = time.monotonic()
        await session.subscribe(["a"])
        await eventually(lambda: len(sink.kinds("error")) >= 12)
        elapsed = time.monotonic() - started
        errors = sink.kinds("error")[:12]
        delays = [d["retry_in_s"] for d in errors]
        assert [d["attempt"] for d in errors] == list(range(12))
        assert all(0 < d <= 0.16 for d in delays)
        assert len(set(delays)) >= 10  # jittered
        assert max(delays[6:]) > 2 * max(delays[:2])  # growing towards the cap
        assert elapsed >= sum(delays[:11])  # each attempt really waited
        assert not session.connected


@pytest.mark.asyncio
async def test_resync_asks_the_venue_again_on_the_open_socket() -> None:
    async with running() as (session, _sink, venue):
        await session.subscribe(["a", "b"])
        await eventually(lambda: venue.open_sets() == [{"a", "b"}])
        await session.resync(["b"])
        await eventually(lambda: "ADD b" in venue.log)
        assert venue.log.index("DEL b") < venue.log.index("ADD b")
        assert venue.open_sets() == [{"a", "b"}]
        assert session.shard_stats()[0]["resyncs"] == 1


@pytest.mark.asyncio
async def test_each_attempt_has_its_own_headers_and_handshake_frames_are_delivered() -> None:
    venue = LineVenue()
    venue.greeting = "NOPE"
    async with running(venue, hooks=GreetedLines()) as (session, sink, _):
        await session.subscribe(["a"])
        await eventually(lambda: len(sink.kinds("error")) >= 1)
        venue.greeting = "HELLO"
        await eventually(lambda: any(p.startswith(b"DATA ") for _, p in sink.frames))
    assert sink.kinds("error")[0]["error"].startswith("HandshakeError")
    assert len(set(venue.tokens)) == len(venue.tokens) >= 2
    assert sink.frames[0] == ("ws/0", b"HELLO")


@pytest.mark.asyncio
async def test_a_frame_can_ask_for_a_reconnect() -> None:
    venue = LineVenue()
    venue.greeting = "HELLO"
    async with running(venue, hooks=GreetedLines()) as (session, sink, _):
        await session.subscribe(["a"])
        await eventually(lambda: venue.open_sets() == [{"a"}])
        await venue.sockets[0]["ws"].send_str("BYE")
        await eventually(lambda: len(sink.kinds("connected")) == 2)
    assert sink.kinds("disconnected")[0]["reason"] == "venue said bye"
    assert b"BYE" in [p for _, p in sink.frames]


@pytest.mark.asyncio
async def test_a_venue_that_replaces_the_set_gets_the_whole_set_on_each_change() -> None:
    venue = LineVenue()
    venue.greeting = "HELLO"
    hooks = ReplacingLines()
    async with running(venue, hooks=hooks, subscribe_interval_s=0.05) as (session, _, _v):
        await session.subscribe(["a"])
        await eventually(lambda: venue.open_sets() == [{"a"}])
        await session.subscribe(["b"])
        await session.subscribe(["c"])
        await session.unsubscribe(["a"])
        await eventually(lambda: venue.open_sets() == [{"b", "c"}])
        await session.resync(["b"])
        await eventually(lambda: venue.log.count("SUB b c") == 2)
    assert len(venue.sockets) == 1
    assert not any(line.startswith(("ADD", "DEL")) for line in venue.log)
