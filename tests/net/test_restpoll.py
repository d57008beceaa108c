"""REST polling session: cadence, batches, per-key backoff and the venue cooldown."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from pmtape.core.errors import VenueRateLimited
from pmtape.net.http import Cooldown, HttpStatusError
from pmtape.net.restpoll import PollSettings, RestPollSession
from pmtape.net.session import HttpMeta
from tests.helpers import eventually


class Venue:
    """An in-memory venue: one body per request, failures on demand."""

    def __init__(self, cooldown: Cooldown | None = None) -> None:
        self.requests: list[list[str]] = []
        self.bad_keys: set[str] = set()
        self.limited = 0
        self.cooldown = cooldown
        self.first_ok_at = 0

    async def fetch(self, keys: Sequence[str]) -> list[tuple[bytes, int, HttpMeta]]:
        self.requests.append(list(keys))
        if self.limited:
            self.limited -= 1
            if self.cooldown is not None:  # what the HTTP client does on a 429
                self.cooldown.trip(0.2)
            raise VenueRateLimited("429", retry_after_s=0.2)
        if self.bad_keys & set(keys):
            raise HttpStatusError("404 no book", 404, b"{}")
        self.first_ok_at = self.first_ok_at or len(self.requests)
        meta = HttpMeta(method="POST", url="/books", status=200, latency_ns=1_000_000)
        return [((",".join(keys)).encode(), 1, meta)]

    def polled(self, key: str) -> int:
        return sum(key in r for r in self.requests)


class Sink:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.events: list[tuple[str, dict[str, Any]]] = []

    def on_frame(self, stream: str, payload: bytes, ts_recv_ns: int) -> None:
        raise AssertionError("a poller delivers HTTP bodies only")

    def on_http(self, stream: str, payload: bytes, ts_recv_ns: int, meta: HttpMeta) -> None:
        assert stream == "rest"
        self.bodies.append(payload)

    def on_session_event(self, stream: str, kind: str, detail: dict[str, Any]) -> None:
        self.events.append((kind, detail))


@contextlib.asynccontextmanager
async def polling(session: RestPollSession, sink: Sink) -> AsyncIterator[None]:
    task = asyncio.create_task(session.run(sink))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.asyncio
async def test_every_key_is_polled_each_cycle_in_batches() -> None:
    venue = Venue()
    settings = PollSettings(interval_s=0.02, batch_size=2, concurrency=2)
    session = RestPollSession(venue.fetch, settings)
    sink = Sink()
    await session.subscribe(["a", "b", "c"])
    async with polling(session, sink):
        await eventually(lambda: session.stats["cycles"] >= 3)
        assert session.connected
        await session.unsubscribe(["c"])
        cycles = session.stats["cycles"]
        await eventually(lambda: session.stats["cycles"] >= cycles + 2)
    assert all(len(r) <= 2 for r in venue.requests)
    assert b"a,b" in sink.bodies
    assert venue.requests[-1] == ["a", "b"]
    assert ("connected", {"keys": 3}) in sink.events


@pytest.mark.asyncio
async def test_a_key_without_a_book_backs_off_alone() -> None:
    venue = Venue()
    venue.bad_keys = {"bad"}
    session = RestPollSession(
        venue.fetch,
        PollSettings(interval_s=0.01, key_backoff_base_s=0.1, key_backoff_max_s=1.0),
        rng=random.Random(3),
    )
    sink = Sink()
    await session.subscribe(["good", "bad"])
    async with polling(session, sink):
        await eventually(lambda: venue.polled("good") >= 40)
    assert 2 <= venue.polled("bad") <= 8
    errors = [d for k, d in sink.events if k == "error"]
    assert {tuple(d["keys"]) for d in errors} == {("bad",)}
    assert {d["verdict"] for d in errors} == {"skip"}


@pytest.mark.asyncio
async def test_a_rate_limited_venue_is_left_alone_for_its_cooldown() -> None:
    cooldown = Cooldown()
    venue = Venue(cooldown)
    venue.limited = 2
    session = RestPollSession(venue.fetch, PollSettings(interval_s=0.005), cooldown=cooldown)
    sink = Sink()
    await session.subscribe(["a"])
    started = time.monotonic()
    async with polling(session, sink):
        await eventually(lambda: len(sink.bodies) >= 1, timeout_s=5)
        elapsed = time.monotonic() - started
    errors = [d for k, d in sink.events if k == "error"]
    assert [d["verdict"] for d in errors] == ["retry", "retry"]
    assert venue.first_ok_at == 3  # two refusals, then a success: not a storm
    assert elapsed >= 0.39
    assert session.stats["cooldown_waits"] >= 2
    assert session.backoff.failures("a") == 0  # venue trouble is not the key's fault
