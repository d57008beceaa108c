"""The real market-channel session against the fake venue: dumps, live changes, faults."""

from __future__ import annotations

import pytest

from pmtape.venues.polymarket.fake.server import FakeFaults, FakePolymarket
from pmtape.venues.polymarket.ws import MarketChannelSession
from tests.helpers import eventually
from tests.venues.polymarket.util import (
    BookSink,
    adapter_for,
    lasting_tokens,
    running,
    settled,
    token_markets,
)


def _session(fake: FakePolymarket, **cfg: object) -> MarketChannelSession:
    session = adapter_for(fake, **cfg).new_session()
    assert isinstance(session, MarketChannelSession)
    return session


@pytest.mark.asyncio
async def test_initial_dump_then_live_books_equal_the_true_books() -> None:
    async with FakePolymarket(markets=16, rate=400, seed=3) as fake:
        keys = lasting_tokens(fake, 12)
        session = _session(fake)
        sink = BookSink()
        await session.subscribe(keys)
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) >= 1 for k in keys))
            await eventually(lambda: sink.normalizer.stats["events"] > 300)
            assert any(f.startswith(b"[") for f in sink.frames)  # array-wrapped dumps/bursts
            await settled(fake, sink, keys)
        assert sink.normalizer.stats["bad"] == sink.normalizer.stats["unknown"] == 0
        assert fake.snapshot_stats()["ws_pings"] >= 1  # text PING answered with PONG


@pytest.mark.asyncio
async def test_subscribe_and_unsubscribe_on_the_open_socket() -> None:
    async with FakePolymarket(markets=12, rate=300, seed=4) as fake:
        keys = lasting_tokens(fake, 8)
        session = _session(fake)
        sink = BookSink()
        await session.subscribe(keys[:4])
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) >= 1 for k in keys[:4]))
            await session.subscribe(keys[4:])
            await eventually(lambda: all(sink.snapshots_of(k) >= 1 for k in keys[4:]))
            await session.unsubscribe(keys[:2])
            await eventually(lambda: fake.snapshot_stats().get("ws_op_unsubscribe") == 1)
            gone_before = sum(1 for f in sink.frames if keys[0].encode() in f)
            await settled(fake, sink, keys[2:])
            fake.resume()
            await eventually(lambda: sink.normalizer.stats["events"] > 200)
            assert sum(1 for f in sink.frames if keys[0].encode() in f) == gone_before
        stats = fake.snapshot_stats()
        assert stats["ws_connections"] == 1  # all on one socket, never reconnected
        assert stats["ws_op_subscribe"] == 1


@pytest.mark.asyncio
async def test_dropped_sockets_mark_books_stale_until_their_fresh_book() -> None:
    async with FakePolymarket(markets=12, rate=300, seed=5) as fake:
        keys = lasting_tokens(fake, 6)
        session = _session(fake, assets_per_connection=3)
        sink = BookSink()
        await session.subscribe(keys)
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) >= 1 for k in keys))
            fake.pause()
            books_before = {k: sink.snapshots_of(k) for k in keys}
            await fake.channel.drop_all()
            await eventually(lambda: len(sink.kinds("disconnected")) == 2)
            lost = sorted(k for d in sink.kinds("disconnected") for k in d["keys"])
            assert lost == sorted(keys)
            await eventually(lambda: all(sink.snapshots_of(k) > books_before[k] for k in keys))
            await settled(fake, sink, keys)  # stale marks cleared by the fresh books
        assert fake.snapshot_stats()["ws_connections"] == 4


@pytest.mark.asyncio
async def test_a_silent_socket_that_still_pongs_is_reconnected_by_the_watchdog() -> None:
    faults = FakeFaults()
    async with FakePolymarket(markets=8, rate=200, seed=6, faults=faults) as fake:
        keys = lasting_tokens(fake, 4)
        session = _session(fake, data_silence_s=0.6, ping_interval_s=0.1)
        sink = BookSink()
        await session.subscribe(keys)
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) >= 1 for k in keys))
            faults.silent = True
            await eventually(lambda: session.shard_stats()[0].get("silent_reconnects", 0) >= 1)
            assert session.shard_stats()[0]["keepalive_replies"] >= 2  # it kept answering PONG
            faults.silent = False
            await eventually(lambda: all(sink.snapshots_of(k) >= 2 for k in keys))
            await settled(fake, sink, keys)


@pytest.mark.asyncio
async def test_sharding_respects_the_venues_silent_cap_per_socket() -> None:
    async with FakePolymarket(
        markets=10, rate=300, seed=8, faults=FakeFaults(max_assets_per_conn=4)
    ) as fake:
        keys = lasting_tokens(fake, 10)
        capped = BookSink()
        over = _session(fake, assets_per_connection=10)  # one socket: 6 tokens silently dropped
        await over.subscribe(keys)
        async with running(over, capped):
            await eventually(lambda: sum(capped.snapshots_of(k) for k in keys) == 4)
        sink = BookSink()
        session = _session(fake, assets_per_connection=4)
        await session.subscribe(keys)
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) >= 1 for k in keys))
            assert fake.snapshot_stats()["ws_served"] == [4, 4, 2]
            await settled(fake, sink, keys)
        assert len(over.shard_stats()) == 1
        assert len(session.shard_stats()) == 3


@pytest.mark.asyncio
async def test_malformed_and_unknown_frames_are_counted_and_books_stay_right() -> None:
    faults = FakeFaults(malformed_prob=0.2, unknown_prob=0.3)
    async with FakePolymarket(markets=10, rate=400, seed=9, faults=faults) as fake:
        keys = lasting_tokens(fake, 8)
        session = _session(fake)
        sink = BookSink()
        await session.subscribe(keys)
        async with running(session, sink):
            await eventually(lambda: sink.normalizer.stats["bad"] >= 3)
            await eventually(lambda: sink.normalizer.stats["unknown"] >= 3)
            await settled(fake, sink, keys)


@pytest.mark.asyncio
async def test_without_live_operations_the_shard_reconnects_with_the_new_set() -> None:
    async with FakePolymarket(
        markets=8, rate=200, seed=10, faults=FakeFaults(dynamic_ops=False)
    ) as fake:
        keys = lasting_tokens(fake, 4)
        session = _session(fake, dynamic_subscribe=False)
        sink = BookSink()
        await session.subscribe(keys[:2])
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) >= 1 for k in keys[:2]))
            await session.subscribe(keys[2:])
            await eventually(lambda: all(sink.snapshots_of(k) >= 1 for k in keys[2:]))
            await settled(fake, sink, keys)
        assert fake.snapshot_stats()["ws_connections"] == 2
        assert any(d["reason"] == "resubscribe" for d in sink.kinds("disconnected"))


@pytest.mark.asyncio
async def test_an_asset_silent_while_its_market_moves_gets_a_fresh_book() -> None:
    async with FakePolymarket(markets=6, rate=300, seed=11) as fake:
        keys = lasting_tokens(fake, 2)  # both tokens of the busiest market
        session = _session(fake, asset_silence_s=0.5)
        sink = BookSink(token_markets(fake))
        await session.subscribe(keys)
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) >= 1 for k in keys))
            # The venue forgets one token on this socket (its per-asset silence bug).
            conn = fake.channel.conns[0]
            conn.served.discard(keys[1])
            await eventually(lambda: session.asset_resyncs >= 1, timeout_s=10)
            await eventually(lambda: sink.snapshots_of(keys[1]) >= 2)
            await settled(fake, sink, keys)
        resynced = {k for d in sink.kinds("resync") for k in d["keys"]}
        assert resynced == {keys[1]}  # the healthy token was left alone


@pytest.mark.asyncio
async def test_periodic_drops_are_survived_and_books_repair_each_time() -> None:
    faults = FakeFaults(drop_every_s=0.3)
    async with FakePolymarket(markets=8, rate=300, seed=12, faults=faults) as fake:
        keys = lasting_tokens(fake, 6)
        session = _session(fake, assets_per_connection=3)
        sink = BookSink()
        await session.subscribe(keys)
        async with running(session, sink):
            await eventually(lambda: fake.snapshot_stats().get("ws_dropped", 0) >= 6)
            faults.drop_every_s = 0.0
            await eventually(lambda: session.connected)
            await settled(fake, sink, keys)
        connects = sum(s.get("connects", 0) for s in session.shard_stats())
        assert connects >= 6
        assert len(sink.kinds("disconnected")) >= 4


@pytest.mark.asyncio
async def test_tokens_added_live_without_a_dump_get_one_reconnect() -> None:
    faults = FakeFaults(dump_on_operation=False)
    # No trades: nothing but the reconnect's dump can bring the new tokens a book.
    async with FakePolymarket(markets=8, rate=200, seed=13, trade_ratio=0.0, faults=faults) as fake:
        keys = lasting_tokens(fake, 4)
        session = _session(fake, asset_silence_s=0.4)
        sink = BookSink()
        await session.subscribe(keys[:2])
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) >= 1 for k in keys[:2]))
            await session.subscribe(keys[2:])  # the venue adds them but sends no book
            await eventually(lambda: all(sink.snapshots_of(k) >= 1 for k in keys[2:]))
            await settled(fake, sink, keys)
        assert session.first_book_reconnects == 2
        assert fake.snapshot_stats()["ws_connections"] == 2
