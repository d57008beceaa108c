"""Limitless REST polling against the fake: books keyed by slug, backoff per slug, cooldown."""

from __future__ import annotations

import pytest

from pmtape.net.restpoll import RestPollSession
from pmtape.venues.limitless.fake.server import FakeLimitless, LimitlessFakeFaults
from tests.helpers import eventually
from tests.venues.limitless.util import adapter_for, running, settled, sink

UNKNOWN = "no-such-market-1"


def _poller(fake: FakeLimitless, **cfg: object) -> RestPollSession:
    session = adapter_for(fake, **cfg).new_session()
    assert isinstance(session, RestPollSession)
    return session


@pytest.mark.asyncio
async def test_polled_books_equal_the_true_books_each_market_introduced_once() -> None:
    async with FakeLimitless(markets=10, rate=300, seed=51) as fake:
        keys = fake.active_slugs()[:8]
        session = _poller(fake)
        books = sink()
        await session.subscribe(keys)
        async with running(session, books):
            await eventually(lambda: all(books.snapshots_of(k) >= 3 for k in keys))
            await settled(fake, books, keys)
        details = [m for _, m in books.bodies if not m.url.endswith("/orderbook")]
        assert sorted(m.url.rsplit("/", 1)[-1] for m in details) == sorted(keys)
        assert books.normalizer.stats["unkeyed"] == books.normalizer.stats["bad"] == 0


@pytest.mark.asyncio
async def test_an_unknown_slug_backs_off_alone_while_the_others_keep_polling() -> None:
    async with FakeLimitless(markets=6, rate=200, seed=52) as fake:
        keys = fake.active_slugs()[:3]
        session = _poller(fake)
        books = sink()
        await session.subscribe([*keys, UNKNOWN])
        async with running(session, books):
            await eventually(lambda: all(books.snapshots_of(k) >= 8 for k in keys))
            assert session.backoff.failures(UNKNOWN) >= 1
            assert session.backoff.backing_off() == 1
        failed = [d for d in books.kinds("error") if d["keys"] == [UNKNOWN]]
        assert 1 <= len(failed) <= 3
        assert "404" in failed[0]["error"]


@pytest.mark.asyncio
async def test_a_429_with_retry_after_holds_the_whole_venue_that_long() -> None:
    faults = LimitlessFakeFaults(http_error_statuses=(429,), retry_after_s=1.0)
    async with FakeLimitless(markets=6, rate=200, seed=53, faults=faults) as fake:
        keys = fake.active_slugs()[:4]
        adapter = adapter_for(fake, cooldown_base_s=0.05, cooldown_max_s=0.1)
        session = adapter.new_session()
        assert isinstance(session, RestPollSession)
        books = sink()
        await session.subscribe(keys)
        async with running(session, books):
            await eventually(lambda: all(books.snapshots_of(k) >= 1 for k in keys))
            faults.http_error_prob = 1.0
            await eventually(lambda: adapter.cooldown.trips >= 1)
            # Retry-After (1 s) wins over the configured 50-100 ms backoff.
            assert adapter.cooldown.remaining() > 0.5
            assert not session.connected
            faults.http_error_prob = 0.0
            await settled(fake, books, keys)
        assert session.stats["cooldown_waits"] >= 1


@pytest.mark.asyncio
async def test_503s_trip_the_cooldown_and_polling_recovers() -> None:
    faults = LimitlessFakeFaults(http_error_statuses=(503,))
    async with FakeLimitless(markets=6, rate=200, seed=54, faults=faults) as fake:
        keys = fake.active_slugs()[:4]
        adapter = adapter_for(fake, cooldown_base_s=0.2, cooldown_max_s=0.4)
        session = adapter.new_session()
        books = sink()
        await session.subscribe(keys)
        async with running(session, books):
            await eventually(lambda: all(books.snapshots_of(k) >= 1 for k in keys))
            faults.http_error_prob = 1.0
            await eventually(lambda: adapter.cooldown.trips >= 4)
            faults.http_error_prob = 0.0
            await settled(fake, books, keys)
        assert fake.snapshot_stats()["http_error_503"] >= 4
