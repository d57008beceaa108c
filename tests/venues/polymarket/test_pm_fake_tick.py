"""The fake's tick sizes: ``book`` carries ``tick_size``; near 0 and 1 the tick turns finer."""

from __future__ import annotations

from typing import Any

import aiohttp
import msgspec
import pytest

from pmtape.core.events import ASK, BID, BookSnapshot
from pmtape.core.fixed import format_e6
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.polymarket.fake.wire import WireEncoder
from pmtape.venues.polymarket.messages import (
    BookMsg,
    MarketMessage,
    PriceChangeMsg,
    TickSizeChangeMsg,
)
from pmtape.venues.polymarket.normalize import PolymarketNormalizer
from pmtape.venues.sim.generator import GenDelta, GenSnapshot
from tests.helpers import eventually

TOKEN = "4821339057118445220991338227746301928374650192837465019283746501928374650192"
SIZE = 100_000_000


def _encoder_at_half() -> WireEncoder:
    enc = WireEncoder()
    enc.tops.reset(TOKEN, [(490_000, SIZE), (480_000, SIZE)], [(510_000, SIZE), (520_000, SIZE)])
    enc.set_tick(TOKEN, 10_000)
    return enc


def test_a_snapshot_past_096_announces_the_finer_tick_before_its_book() -> None:
    enc = _encoder_at_half()
    snap = GenSnapshot(TOKEN, "m1", [(970_000, SIZE)], [(980_000, SIZE)], 1_000)
    out = enc.encode([snap])
    assert [type(m) for m in out] == [TickSizeChangeMsg, BookMsg]
    change, book = out
    assert isinstance(change, TickSizeChangeMsg)
    assert isinstance(book, BookMsg)
    assert (change.old_tick_size, change.new_tick_size) == ("0.01", "0.001")
    assert (change.asset_id, change.timestamp) == (TOKEN, "1000")
    assert book.tick_size == "0.001"
    assert enc.ticks[TOKEN] == 1_000


def test_a_change_back_inside_restores_the_market_tick_and_nothing_moves_without_a_cross() -> None:
    enc = _encoder_at_half()
    plain = enc.encode([GenDelta(TOKEN, "m1", [(BID, 490_000, 5 * SIZE)], 1)])
    assert [type(m) for m in plain] == [PriceChangeMsg]
    enc.encode([GenSnapshot(TOKEN, "m1", [(20_000, SIZE)], [(30_000, SIZE)], 2)])
    assert enc.ticks[TOKEN] == 1_000
    changes = [(BID, 20_000, 0), (ASK, 30_000, 0), (BID, 500_000, SIZE), (ASK, 510_000, SIZE)]
    out = enc.encode([GenDelta(TOKEN, "m1", changes, 3)])
    assert [type(m) for m in out] == [TickSizeChangeMsg, PriceChangeMsg]
    change = out[0]
    assert isinstance(change, TickSizeChangeMsg)
    assert (change.old_tick_size, change.new_tick_size) == ("0.001", "0.01")
    assert enc.ticks[TOKEN] == 10_000


def test_the_normalizer_counts_tick_size_change_and_reads_books_with_tick_size() -> None:
    enc = _encoder_at_half()
    out: list[MarketMessage] = enc.encode(
        [GenSnapshot(TOKEN, "m1", [(970_000, SIZE)], [(980_000, SIZE)], 5)]
    )
    norm = PolymarketNormalizer()
    events = norm.normalize(msgspec.json.encode(out), 10)
    assert norm.stats["tick_size_change"] == 1
    snaps = [e for e in events if isinstance(e, BookSnapshot)]
    assert len(snaps) == 1
    assert snaps[0].bids == [(970_000, SIZE)]


@pytest.mark.asyncio
async def test_the_fake_serves_tick_size_in_books_and_rest() -> None:
    async with FakePolymarket(markets=4, rate=100, seed=5) as fake:
        token = fake.active_tokens()[0]
        market = fake.generator.market_of(token)
        assert market is not None
        await eventually(lambda: fake.generator.now_ms > 0)
        book = fake.encoder.book(fake.generator.snapshot_of(token))
        assert book.tick_size is not None
        assert book.tick_size == format_e6(fake.tick_e6(token))
        assert fake.tick_e6(token) == market.tick_e6  # the sim keeps mids inside 0.08..0.92


@pytest.mark.asyncio
async def test_market_channel_books_carry_the_tokens_tick() -> None:
    async with (
        FakePolymarket(markets=3, rate=50, seed=9) as fake,
        aiohttp.ClientSession() as http,
        http.ws_connect(fake.urls["ws_url"]) as ws,
    ):
        tokens = fake.active_tokens()
        await ws.send_str(msgspec.json.encode({"type": "market", "assets_ids": tokens}).decode())
        books: dict[str, Any] = {}
        while len(books) < len(tokens):
            raw = msgspec.json.decode(await ws.receive_str())
            for msg in raw if isinstance(raw, list) else [raw]:
                if msg.get("event_type") == "book":
                    books[msg["asset_id"]] = msg
        for token, book in books.items():
            assert book["tick_size"] == format_e6(fake.tick_e6(token))
