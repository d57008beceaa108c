"""The real Limitless feed against the fake: Socket.IO handshake, replacing sets, faults."""

from __future__ import annotations

import pytest

from pmtape.core.clock import now_ms
from pmtape.core.events import MarketStatus
from pmtape.venues.limitless.fake.server import FakeLimitless, LimitlessFakeFaults
from pmtape.venues.limitless.ws import LimitlessFeedSession
from tests.helpers import eventually
from tests.venues.limitless.util import adapter_for, running, settled, sink


def _feed(fake: FakeLimitless, **cfg: object) -> LimitlessFeedSession:
    session = adapter_for(fake, mode="ws", **cfg).new_session()
    assert isinstance(session, LimitlessFeedSession)
    return session


def _served(fake: FakeLimitless) -> list[set[str]]:
    return [set(c.subs) for c in fake.feed.conns]


@pytest.mark.asyncio
async def test_full_books_on_every_update_equal_the_true_books() -> None:
    faults = LimitlessFakeFaults(oracle_prob=0.05, duplicate_prob=0.1)
    async with FakeLimitless(
        markets=12, rate=300, seed=61, rolling_share=0.25, faults=faults
    ) as fake:
        keys = fake.active_slugs()[:10]
        session = _feed(fake)
        books = sink()
        await session.subscribe(keys)
        async with running(session, books):
            await eventually(lambda: all(books.snapshots_of(k) >= 1 for k in keys))
            await eventually(lambda: books.normalizer.stats["events"] > 200)
            await settled(fake, books, keys)
        stats = books.normalizer.stats
        assert stats["duplicate"] >= 1  # same version twice: applied once
        assert stats["ignored"] >= 1  # oracle ticks
        assert stats["bad"] == stats["unknown"] == 0
        fake_stats = fake.snapshot_stats()
        assert fake_stats["ws_connections"] == 1
        assert fake_stats.get("ws_invalid_state", 0) == 0  # never emitted before the ack


@pytest.mark.asyncio
async def test_each_change_resends_the_whole_set_which_replaces_the_last() -> None:
    async with FakeLimitless(markets=12, rate=300, seed=62) as fake:
        keys = fake.active_slugs()[:8]
        session = _feed(fake)
        books = sink()
        await session.subscribe(keys[:4])
        async with running(session, books):
            await eventually(lambda: _served(fake) == [set(keys[:4])])
            await session.subscribe(keys[4:])
            await eventually(lambda: _served(fake) == [set(keys)])
            await eventually(lambda: all(books.snapshots_of(k) >= 1 for k in keys[4:]))
            await session.unsubscribe(keys[:3])
            await eventually(lambda: _served(fake) == [set(keys[3:])])
            seen = sum(1 for f in books.frames if keys[0].encode() in f)
            await settled(fake, books, keys[3:])
            fake.resume()
            before = books.normalizer.stats["events"]
            await eventually(lambda: books.normalizer.stats["events"] > before + 50)
            assert sum(1 for f in books.frames if keys[0].encode() in f) == seen
        stats = fake.snapshot_stats()
        assert stats["ws_connections"] == 1
        assert stats["ws_emit_subscribe_market_prices"] == 3


@pytest.mark.asyncio
async def test_server_pings_are_answered_and_a_socket_without_them_is_replaced() -> None:
    faults = LimitlessFakeFaults(ping_interval_ms=100, ping_timeout_ms=200)
    async with FakeLimitless(markets=6, rate=200, seed=63, faults=faults) as fake:
        keys = fake.active_slugs()[:4]
        session = _feed(fake)
        books = sink()
        await session.subscribe(keys)
        async with running(session, books):
            await eventually(lambda: fake.snapshot_stats().get("ws_pongs", 0) >= 3)
            assert fake.snapshot_stats().get("ws_ping_timeouts", 0) == 0
            faults.no_pings = True
            faults.silent = True
            await eventually(lambda: session.conn_stats()[0].get("dead_reconnects", 0) >= 1)
            faults.no_pings = False
            faults.silent = False
            await eventually(lambda: all(books.snapshots_of(k) >= 2 for k in keys))
            await settled(fake, books, keys)
        assert any(d["reason"] == "no ping from the server" for d in books.kinds("disconnected"))


@pytest.mark.asyncio
async def test_dropped_sockets_mark_books_stale_until_the_next_full_book() -> None:
    async with FakeLimitless(markets=8, rate=200, seed=64) as fake:
        keys = fake.active_slugs()[:6]
        session = _feed(fake, markets_per_connection=3)
        books = sink()
        await session.subscribe(keys)
        async with running(session, books):
            await eventually(lambda: all(books.snapshots_of(k) >= 1 for k in keys))
            fake.pause()
            counts = {k: books.snapshots_of(k) for k in keys}
            await fake.feed.drop_all()
            await eventually(lambda: len(books.kinds("disconnected")) == 2)
            assert all(books.stale_marks[k] == 1 for k in keys)
            await eventually(lambda: all(books.snapshots_of(k) > counts[k] for k in keys))
            await settled(fake, books, keys)
        assert fake.snapshot_stats()["ws_connections"] == 4


@pytest.mark.asyncio
async def test_a_resolved_market_is_reported_once_though_sent_three_times() -> None:
    async with FakeLimitless(
        markets=4, rate=200, seed=65, rolling_share=1.0, rolling_period_s=60
    ) as fake:
        keys = fake.active_slugs()
        session = _feed(fake)
        books = sink()
        await session.subscribe(keys)
        async with running(session, books):
            await eventually(lambda: all(books.snapshots_of(k) >= 1 for k in keys))
            fake.feed.resolved(keys[:1], now_ms())
            await eventually(lambda: books.normalizer.stats["duplicate"] >= 2)
        statuses = [e for e in books.events if isinstance(e, MarketStatus)]
        assert [(s.market_id, s.status) for s in statuses] == [(keys[0], "resolved")]
