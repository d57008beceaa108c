"""The live sim session: initial books, unsubscribe, catch-up, and books rebuilt from its frames."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from pmtape.core.book import Book
from pmtape.core.clock import now_ms
from pmtape.core.events import BookDelta, BookSnapshot, Event
from pmtape.venues.sim.constants import STREAM
from pmtape.venues.sim.generator import SimGenerator, SimMarket, SimUniverse
from pmtape.venues.sim.normalize import SimNormalizer
from pmtape.venues.sim.ws import SimSession
from tests.helpers import eventually


class RecordingSink:
    """Keeps every frame (normalized on arrival) and lifecycle event a session delivers."""

    def __init__(self) -> None:
        self.normalizer = SimNormalizer()
        self.frames: list[tuple[str, bytes, int]] = []
        self.events: list[Event] = []
        self.session_events: list[tuple[str, str, dict[str, Any]]] = []

    def on_frame(self, stream: str, payload: bytes, ts_recv_ns: int) -> None:
        self.frames.append((stream, payload, ts_recv_ns))
        self.events += self.normalizer.normalize(payload, ts_recv_ns // 1_000_000)

    def on_session_event(self, stream: str, kind: str, detail: dict[str, Any]) -> None:
        self.session_events.append((stream, kind, detail))

    def keys(self) -> set[str]:
        return {e.key for e in self.events}

    def count(self, key: str, kind: type = BookDelta) -> int:
        return sum(1 for e in self.events if e.key == key and isinstance(e, kind))

    def kinds(self) -> list[str]:
        return [kind for _, kind, _ in self.session_events]


def _session(rate: float = 20_000.0, **kwargs: Any) -> SimSession:
    universe = SimUniverse(seed=21, markets=60, rolling_share=0.0)
    return SimSession(SimGenerator(universe, 21), rate, **kwargs)


def _hottest(session: SimSession, n: int) -> list[SimMarket]:
    gen = session.generator
    gen.refresh(now_ms())
    # Markets that stay open well past the test, so their books cannot vanish mid-run.
    lasting = [m for m in gen.active_markets if m.close_ts > now_ms() + 3_600_000]
    return sorted(lasting, key=lambda m: m.activity, reverse=True)[:n]


@contextlib.asynccontextmanager
async def _running(session: SimSession, sink: RecordingSink) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(session.run(sink))
    try:
        await eventually(lambda: session.connected)
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _rebuild(events: list[Event]) -> dict[str, Book]:
    books: dict[str, Book] = {}
    for e in events:
        if isinstance(e, BookSnapshot):
            books.setdefault(e.key, Book()).apply_snapshot(e.bids, e.asks, e.ts_recv_ms)
        elif isinstance(e, BookDelta):
            assert e.key in books, "a delta arrived before the initial book"
            books[e.key].apply_changes(e.changes, e.ts_recv_ms)
    return books


def _at_least(sink: RecordingSink, keys: list[str], n: int) -> Callable[[], bool]:
    return lambda: all(sink.count(k) >= n for k in keys)


@pytest.mark.asyncio
async def test_subscribe_starts_with_the_initial_book() -> None:
    session = _session()
    sink = RecordingSink()
    (market,) = _hottest(session, 1)
    async with _running(session, sink):
        await session.subscribe([market.yes_token])
        await eventually(_at_least(sink, [market.yes_token], 3))
    first = next(e for e in sink.events if e.key == market.yes_token)
    assert isinstance(first, BookSnapshot)
    assert len(first.bids) >= 5
    assert sink.keys() == {market.yes_token}
    assert all(stream == STREAM for stream, _, _ in sink.frames)
    assert sink.kinds() == ["connected", "subscribed", "disconnected"]
    assert sink.session_events[1][2] == {"count": 1, "ignored": 0, "total": 1}
    assert not session.connected


@pytest.mark.asyncio
async def test_unsubscribe_stops_the_frames_of_that_key() -> None:
    session = _session()
    sink = RecordingSink()
    keep, drop = (m.yes_token for m in _hottest(session, 2))
    async with _running(session, sink):
        await session.subscribe([keep, drop])
        await eventually(_at_least(sink, [keep, drop], 2))
        await session.unsubscribe([drop])
        cut = len(sink.events)
        seen = sink.count(keep)
        await eventually(lambda: sink.count(keep) >= seen + 20)
    assert drop not in {e.key for e in sink.events[cut:]}
    assert session.subscriptions == frozenset({keep})
    assert ("unsubscribed", {"count": 1, "total": 1}) in [(k, d) for _, k, d in sink.session_events]


@pytest.mark.asyncio
async def test_inactive_keys_are_ignored_and_counted() -> None:
    session = _session()
    sink = RecordingSink()
    async with _running(session, sink):
        await session.subscribe(["12345", "sim-nope"])
    assert session.subscriptions == frozenset()
    assert session.stats["ignored_keys"] == 2
    assert sink.session_events[1][2] == {"count": 0, "ignored": 2, "total": 0}
    assert sink.frames == []


@pytest.mark.asyncio
async def test_books_rebuilt_from_the_stream_equal_the_true_books() -> None:
    session = _session()
    sink = RecordingSink()
    markets = _hottest(session, 6)
    early = [t for m in markets[:3] for t in m.token_ids]
    late = [markets[3].yes_token, markets[4].no_token, markets[5].yes_token]
    async with _running(session, sink):
        await session.subscribe(early)
        await eventually(_at_least(sink, early, 20))
        await session.subscribe(late)  # mid-stream: the initial book must line up with deltas
        await eventually(_at_least(sink, early + late, 20))
    assert sink.normalizer.stats["bad"] == sink.normalizer.stats["unknown"] == 0
    assert any(payload.startswith(b"[") for _, payload, _ in sink.frames)
    books = _rebuild(sink.events)
    assert set(books) == set(early + late)
    for key, book in books.items():
        bids, asks = session.generator.true_book(key)
        assert sorted(book.bids.items(), reverse=True) == bids
        assert sorted(book.asks.items()) == asks


@pytest.mark.asyncio
async def test_far_behind_session_catches_up_in_bounded_chunks() -> None:
    session = _session(rate=2_000_000.0, max_chunk=500, max_backlog_s=0.05)
    sink = RecordingSink()
    gaps: list[float] = []

    async def heartbeat() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    try:
        async with _running(session, sink):
            await eventually(lambda: session.stats["generated"] > 100_000)
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
    assert session.stats["skipped"] > 0
    assert max(gaps) < 0.5


@pytest.mark.asyncio
async def test_requests_before_run_are_acknowledged_once_connected() -> None:
    session = _session()
    sink = RecordingSink()
    (market,) = _hottest(session, 1)
    await session.subscribe([market.yes_token, "nope"])
    assert not session.connected
    async with _running(session, sink):
        await eventually(lambda: sink.count(market.yes_token, BookSnapshot) == 1)
    assert sink.kinds() == ["connected", "subscribed", "disconnected"]
    assert sink.session_events[0][2] == {"subscriptions": 1}
    assert sink.session_events[1][2] == {"count": 1, "ignored": 1, "total": 1}


@pytest.mark.asyncio
async def test_a_large_universe_is_laid_out_off_the_loop() -> None:
    session = SimSession(SimGenerator(SimUniverse(seed=2, markets=20_000), 2), 1000.0)
    sink = RecordingSink()
    gaps: list[float] = []
    stop = asyncio.Event()

    async def heartbeat() -> None:
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    async with _running(session, sink):
        stop.set()
    await beat
    assert len(session.generator.active_markets) == 20_000
    assert len(gaps) > 10
    assert max(gaps) < 0.25
