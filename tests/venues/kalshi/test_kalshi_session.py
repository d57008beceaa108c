"""The real Kalshi WebSocket session against the fake: signed handshakes, books, gaps, faults."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest

from pmtape.core.events import Trade
from pmtape.venues.kalshi.fake.server import FakeKalshi, KalshiFakeFaults
from pmtape.venues.kalshi.ws import KalshiWsSession
from tests.helpers import eventually
from tests.venues.kalshi.util import KEY_ID, BookSink, adapter_for, running, settled, throwaway_key


def _session(fake: FakeKalshi, key: Path, **cfg: object) -> KalshiWsSession:
    session = adapter_for(fake, key, **cfg).new_session()
    assert isinstance(session, KalshiWsSession)
    return session


def _lasting(fake: FakeKalshi, n: int) -> list[str]:
    return fake.active_tickers()[:n]


@pytest.mark.asyncio
async def test_signed_session_books_equal_the_true_books(tmp_path: Path) -> None:
    key, public = throwaway_key(tmp_path)
    async with FakeKalshi(markets=12, rate=400, seed=3, keys={KEY_ID: public}) as fake:
        keys = _lasting(fake, 10)
        session = _session(fake, key)
        sink = BookSink()
        await session.subscribe(keys)
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) >= 1 for k in keys))
            await eventually(lambda: sink.normalizer.stats["events"] > 400)
            await settled(fake, sink, keys)
        assert any(isinstance(e, Trade) for e in sink.events)
        assert sink.normalizer.stats["bad"] == sink.normalizer.stats["unknown"] == 0
        stats = fake.snapshot_stats()
        assert stats["ws_handshakes"] == stats["ws_connections"] == 1
        assert stats["ws_auth_rejected"] == 0 if "ws_auth_rejected" in stats else True
        assert stats["ws_cmd_subscribe"] == 3  # book, trade and the venue-wide lifecycle


@pytest.mark.asyncio
async def test_subscribe_and_unsubscribe_on_the_open_socket(tmp_path: Path) -> None:
    key, public = throwaway_key(tmp_path)
    async with FakeKalshi(markets=12, rate=300, seed=4, keys={KEY_ID: public}) as fake:
        keys = _lasting(fake, 8)
        session = _session(fake, key, trades=False)
        sink = BookSink()
        await session.subscribe(keys[:2])
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) == 1 for k in keys[:2]))
            await session.subscribe(keys[2:])
            await eventually(lambda: all(sink.snapshots_of(k) == 1 for k in keys[2:]))
            await session.unsubscribe(keys[:2])  # the whole first sid: unsubscribe
            await session.unsubscribe(keys[2:3])  # part of the second: delete_markets
            await eventually(lambda: fake.snapshot_stats().get("ws_cmd_unsubscribe") == 1)
            await eventually(lambda: fake.snapshot_stats().get("ws_cmd_update_subscription") == 1)
            seen = sum(1 for f in sink.frames if keys[0].encode() in f)
            await settled(fake, sink, keys[3:])
            fake.resume()
            before = sink.normalizer.stats["events"]
            await eventually(lambda: sink.normalizer.stats["events"] > before + 100)
            assert sum(1 for f in sink.frames if keys[0].encode() in f) == seen
            assert not any(keys[2].encode() in f for f in sink.frames[-50:])
        stats = fake.snapshot_stats()
        assert stats["ws_connections"] == 1  # never reconnected for a change of set
        assert stats["ws_cmd_subscribe"] == 3  # book, trade and the venue-wide lifecycle


@pytest.mark.asyncio
async def test_a_sequence_gap_marks_the_sid_stale_and_a_snapshot_repairs_it(
    tmp_path: Path,
) -> None:
    key, public = throwaway_key(tmp_path)
    async with FakeKalshi(markets=10, rate=400, seed=5, keys={KEY_ID: public}) as fake:
        keys = _lasting(fake, 6)
        session = _session(fake, key, markets_per_subscription=3)
        sink = BookSink()
        await session.subscribe(keys)
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) == 1 for k in keys))
            fake.channel.inject_gap(keys[0])
            await eventually(
                lambda: any(d["reason"] == "seq_gap" for d in sink.kinds("disconnected"))
            )
            (gap,) = [d for d in sink.kinds("disconnected") if d["reason"] == "seq_gap"]
            ordered = sorted(keys)
            chunk = ordered[:3] if keys[0] in ordered[:3] else ordered[3:]
            assert gap["keys"] == chunk  # the gapped sid's tickers, and only they
            assert gap["got"] == gap["expected"] + 1
            assert all(sink.stale_marks[k] == 1 for k in chunk)
            await eventually(lambda: all(sink.snapshots_of(k) == 2 for k in chunk))
            await settled(fake, sink, keys)  # stale marks cleared by the fresh snapshots
            others = [k for k in keys if k not in chunk]
            assert all(sink.snapshots_of(k) == 1 and not sink.stale_marks[k] for k in others)
        stats = fake.snapshot_stats()
        assert stats["ws_gaps_injected"] == 1
        assert stats["ws_snapshot_requests"] == 1
        assert stats["ws_connections"] == 1
        assert session.conn_stats()[0]["gaps"] == 1


@pytest.mark.asyncio
async def test_repeated_gaps_are_all_repaired(tmp_path: Path) -> None:
    key, public = throwaway_key(tmp_path)
    faults = KalshiFakeFaults(gap_every=40)
    async with FakeKalshi(
        markets=8, rate=400, seed=6, keys={KEY_ID: public}, faults=faults
    ) as fake:
        keys = _lasting(fake, 6)
        session = _session(fake, key)
        sink = BookSink()
        await session.subscribe(keys)
        async with running(session, sink):
            await eventually(lambda: len(sink.kinds("disconnected")) >= 3)
            faults.gap_every = 0
            await settled(fake, sink, keys)
        assert fake.snapshot_stats()["ws_connections"] == 1


@pytest.mark.asyncio
async def test_a_refused_get_snapshot_falls_back_to_a_reconnect(tmp_path: Path) -> None:
    key, public = throwaway_key(tmp_path)
    faults = KalshiFakeFaults(refuse_snapshot=True)
    async with FakeKalshi(
        markets=8, rate=300, seed=7, keys={KEY_ID: public}, faults=faults
    ) as fake:
        keys = _lasting(fake, 4)
        session = _session(fake, key)
        sink = BookSink()
        await session.subscribe(keys)
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) == 1 for k in keys))
            fake.channel.inject_gap(keys[1])
            await eventually(lambda: fake.snapshot_stats()["ws_connections"] == 2)
            errors = sink.kinds("error")
            assert errors[0]["kind"] == "command"
            assert errors[0]["code"] == 13
            await settled(fake, sink, keys)


@pytest.mark.asyncio
async def test_a_bad_signature_is_refused_and_reported_without_a_retry_storm(
    tmp_path: Path,
) -> None:
    key, _ = throwaway_key(tmp_path, "ours.pem")
    _, venue_knows = throwaway_key(tmp_path, "registered.pem")
    async with FakeKalshi(markets=4, rate=100, keys={KEY_ID: venue_knows}) as fake:
        session = _session(fake, key, auth_retry_s=1.5, reconnect_backoff_max_s=0.05)
        sink = BookSink()
        await session.subscribe(fake.active_tickers())
        started = time.monotonic()
        async with running(session, sink):
            await eventually(lambda: fake.snapshot_stats().get("ws_auth_rejected") == 2)
            elapsed = time.monotonic() - started
        (first, second) = sink.kinds("error")[:2]
        assert first["kind"] == "auth"
        assert first["error_type"] == "VenueAuthError"
        assert "401" in first["error"]
        assert first["retry_in_s"] == 1.5
        # One refusal, then the long wait: a connect failure would have retried every ~50 ms.
        assert elapsed >= 1.4
        stats = fake.snapshot_stats()
        assert stats["ws_auth_rejected_signature"] == stats["ws_handshakes"] == 2
        assert stats.get("ws_connections", 0) == 0
        assert not session.connected
        assert second["kind"] == "auth"


@pytest.mark.asyncio
async def test_unsigned_or_stale_upgrades_are_refused(tmp_path: Path) -> None:
    key, public = throwaway_key(tmp_path)
    async with FakeKalshi(markets=2, keys={KEY_ID: public}) as fake:
        signer = adapter_for(fake, key).signer()
        stale = signer.headers("GET", "/trade-api/ws/v2", ts_ms=1_000_000_000_000)
        wrong_path = signer.headers("GET", "/trade-api/v2/markets")
        async with aiohttp.ClientSession() as http:
            for headers in ({}, stale, wrong_path, {**stale, "KALSHI-ACCESS-KEY": "nobody"}):
                with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                    await http.ws_connect(fake.urls["ws_url"], headers=headers)
                assert info.value.status == 401
        stats = fake.snapshot_stats()
        assert stats["ws_auth_rejected_missing"] == 1
        assert stats["ws_auth_rejected_timestamp"] == 1
        assert stats["ws_auth_rejected_signature"] == 1
        assert stats["ws_auth_rejected_unknown_key"] == 1


@pytest.mark.asyncio
async def test_dropped_connections_mark_books_stale_until_fresh_snapshots(tmp_path: Path) -> None:
    key, public = throwaway_key(tmp_path)
    async with FakeKalshi(markets=8, rate=300, seed=8, keys={KEY_ID: public}) as fake:
        keys = _lasting(fake, 6)
        session = _session(fake, key, markets_per_connection=3)
        sink = BookSink()
        await session.subscribe(keys)
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) == 1 for k in keys))
            fake.pause()
            await fake.channel.drop_all()
            await eventually(lambda: len(sink.kinds("disconnected")) == 2)
            lost = sorted(k for d in sink.kinds("disconnected") for k in d["keys"])
            assert lost == sorted(keys)
            assert all(sink.stale_marks[k] == 1 for k in keys)
            await eventually(lambda: all(sink.snapshots_of(k) == 2 for k in keys))
            await settled(fake, sink, keys)
        assert fake.snapshot_stats()["ws_connections"] == 4


@pytest.mark.asyncio
async def test_an_unknown_ticker_does_not_keep_its_neighbours_dark(tmp_path: Path) -> None:
    key, public = throwaway_key(tmp_path)
    async with FakeKalshi(markets=6, rate=300, seed=9, keys={KEY_ID: public}) as fake:
        keys = _lasting(fake, 3)
        session = _session(fake, key, trades=False)
        sink = BookSink()
        await session.subscribe([keys[0], "KXNOPE-26JAN01-X", *keys[1:]])
        async with running(session, sink):
            await eventually(lambda: all(sink.snapshots_of(k) == 1 for k in keys))
            await settled(fake, sink, keys)
        errors = sink.kinds("error")
        assert [e["code"] for e in errors] == [16, 16]  # the batch, then the ticker alone
        assert session.conn_stats()[0]["refused_tickers"] == 1
