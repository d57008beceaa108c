"""Kalshi REST polling against the fake: YES books, trades, backoff per ticker, venue cooldown."""

from __future__ import annotations

from collections import Counter

import pytest

from pmtape.core.events import Trade
from pmtape.net.restpoll import RestPollSession
from pmtape.venues.kalshi.fake.server import FakeKalshi, KalshiFakeFaults
from tests.helpers import eventually
from tests.venues.kalshi.util import BookSink, adapter_for, running, settled

UNKNOWN = "KXNOPE-26JAN01-X"


def _poller(fake: FakeKalshi, **cfg: object) -> RestPollSession:
    session = adapter_for(fake, **cfg).new_session()
    assert isinstance(session, RestPollSession)
    return session


@pytest.mark.asyncio
async def test_polled_books_equal_the_true_books_and_trades_are_recorded_once() -> None:
    async with FakeKalshi(markets=12, rate=300, seed=11, trade_ratio=0.2) as fake:
        keys = fake.active_tickers()[:10]
        session = _poller(fake, rest_batch_size=4)
        sink = BookSink()
        await session.subscribe(keys)
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) >= 2 for k in keys))
            await eventually(lambda: sum(isinstance(e, Trade) for e in sink.events) >= 5)
            await settled(fake, sink, keys)
        trade_ids = [e.trade_id for e in sink.events if isinstance(e, Trade)]
        assert len(trade_ids) == len(set(trade_ids))  # overlapping polls, each trade once
        assert sink.normalizer.stats["bad"] == 0
        paths = Counter(meta.url.rsplit("/", 1)[-1] for _, meta in sink.bodies)
        assert paths["orderbooks"] >= 2 * 3  # 10 tickers in batches of 4: 3 requests a cycle
        assert paths["trades"] >= 2


@pytest.mark.asyncio
async def test_an_unknown_ticker_backs_off_alone_while_the_others_keep_polling() -> None:
    async with FakeKalshi(markets=6, rate=200, seed=12) as fake:
        keys = fake.active_tickers()[:3]
        session = _poller(fake, rest_batch_size=1, trades=False)
        sink = BookSink()
        await session.subscribe([*keys, UNKNOWN])
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) >= 8 for k in keys))
            assert session.backoff.failures(UNKNOWN) >= 1
            assert session.backoff.backing_off() == 1
        failed = [d for d in sink.kinds("error") if d["keys"] == [UNKNOWN]]
        assert 1 <= len(failed) <= 3  # 8+ cycles, but exponential backoff for the bad key
        assert all(d["verdict"] == "skip" for d in failed)


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.asyncio
async def test_429_and_503_put_the_venue_in_a_cooldown_it_honours(status: int) -> None:
    faults = KalshiFakeFaults(http_error_statuses=(status,))
    async with FakeKalshi(markets=6, rate=200, seed=13, faults=faults) as fake:
        keys = fake.active_tickers()[:4]
        adapter = adapter_for(
            fake,
            rest_batch_size=1,
            poll_concurrency=4,
            trades=False,
            cooldown_base_s=0.3,
            cooldown_max_s=0.6,
        )
        session = adapter.new_session()
        assert isinstance(session, RestPollSession)
        sink = BookSink()
        await session.subscribe(keys)
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) >= 1 for k in keys))
            before = fake.snapshot_stats()["http_requests"]
            faults.http_error_prob = 1.0
            await eventually(lambda: adapter.cooldown.trips >= 6)
            assert not session.connected  # a venue cooling down reports itself down
            faults.http_error_prob = 0.0
            errors = fake.snapshot_stats()[f"http_error_{status}"]
            # Every request of the outage was answered with an error and tripped the cooldown;
            # the poller then waited it out instead of sending (polling every 0.2 s without a
            # cooldown would be 20 requests a second).
            assert fake.snapshot_stats()["http_requests"] - before <= errors + 4
            assert session.stats["cooldown_waits"] >= 1
            await settled(fake, sink, keys)
        assert session.stats["errors"] >= 6
