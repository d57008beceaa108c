"""REST books against the fake: polling mode, batch and per instrument, cooldown and backoff."""

from __future__ import annotations

import time

import msgspec
import pytest

from pmtape.core.errors import VenueTimeout
from pmtape.net.restpoll import RestPollSession
from pmtape.venues.polymarket.fake.server import FakeFaults, FakePolymarket
from tests.helpers import eventually
from tests.venues.polymarket.util import BookSink, adapter_for, lasting_tokens, running, settled


@pytest.mark.asyncio
@pytest.mark.parametrize(("batch", "method"), [(True, "POST"), (False, "GET")])
async def test_polling_mode_delivers_books_through_on_http(batch: bool, method: str) -> None:
    async with FakePolymarket(markets=10, rate=200, seed=21) as fake:
        keys = lasting_tokens(fake, 6)
        adapter = adapter_for(fake, mode="rest", rest_batch=batch, poll_interval_s=0.1)
        session = adapter.new_session()
        assert isinstance(session, RestPollSession)
        sink = BookSink()
        await session.subscribe(keys)
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) >= 2 for k in keys))
            assert {meta.method for _, meta in sink.bodies} == {method}
            await settled(fake, sink, keys)  # the next poll after the pause shows the truth
        stats = fake.snapshot_stats()
        path = "POST /clob/books" if batch else "GET /clob/book"
        assert stats[f"http {path}"] >= (2 if batch else 12)


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [429, 500])
async def test_errors_with_retry_after_cool_the_venue_down_no_storm(status: int) -> None:
    faults = FakeFaults(http_error_prob=1.0, http_error_statuses=(status,), retry_after_s=0.3)
    async with FakePolymarket(markets=6, rate=100, seed=22, faults=faults) as fake:
        keys = lasting_tokens(fake, 4)
        session = adapter_for(
            fake, mode="rest", poll_interval_s=0.01, rest_batch=True
        ).new_session()
        sink = BookSink()
        await session.subscribe(keys)
        started = time.monotonic()
        async with running(session, sink):
            await eventually(lambda: len(sink.kinds("error")) >= 3)
            elapsed = time.monotonic() - started
            requests = fake.snapshot_stats()["http_requests"]
            # Each failure waits out Retry-After: ~3 requests in ~0.6 s, not hundreds.
            assert requests <= 4
            assert elapsed >= 0.55
            faults.http_error_prob = 0.0
            await eventually(lambda: all(sink.snapshots_of(k) >= 1 for k in keys))


@pytest.mark.asyncio
async def test_a_bad_key_backs_off_alone() -> None:
    async with FakePolymarket(markets=6, rate=100, seed=23) as fake:
        keys = lasting_tokens(fake, 2)
        bogus = "1" * 77  # a well-formed token id nobody trades: 404 no orderbook
        session = adapter_for(
            fake, mode="rest", rest_batch=False, poll_interval_s=0.02
        ).new_session()
        assert isinstance(session, RestPollSession)
        sink = BookSink()
        await session.subscribe([*keys, bogus])
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) >= 15 for k in keys))
        errors = [d for d in sink.kinds("error") if d["keys"] == [bogus]]
        assert 1 <= len(errors) <= 6  # backed off exponentially while the others polled on
        assert {d["verdict"] for d in errors} == {"skip"}
        assert session.backoff.failures(bogus) == len(errors)


@pytest.mark.asyncio
async def test_fetch_books_for_the_audit_skips_tokens_without_a_book() -> None:
    async with FakePolymarket(markets=6, rate=100, seed=24) as fake:
        keys = lasting_tokens(fake, 3)
        for batch in (True, False):
            adapter = adapter_for(fake, rest_batch=batch)
            bodies = await adapter.fetch_books([*keys, "2" * 77])
            norm = adapter.new_normalizer()
            events = [ev for body, ts, _ in bodies for ev in norm.normalize(body, ts // 1_000_000)]
            assert sorted(e.key for e in events) == sorted(keys)  # type: ignore[union-attr]
            assert norm.stats["bad"] == 0
        raw = msgspec.json.decode(bodies[0][0])
        bids = [float(level["price"]) for level in raw["bids"]]
        assert bids == sorted(bids)  # the live ordering: best bid LAST


@pytest.mark.asyncio
async def test_slow_answers_time_out_as_venue_errors() -> None:
    async with FakePolymarket(markets=4, rate=50, seed=25, faults=FakeFaults(slow_ms=500)) as fake:
        adapter = adapter_for(fake, http_timeout_s=0.1)
        with pytest.raises(VenueTimeout):
            await adapter.fetch_books(lasting_tokens(fake, 1))
