"""The official Polymarket clients against the fake: every level-0 market-data call parses.

``py_clob_client`` (v1) and ``py_clob_client_v2`` call the fake's CLOB URL with no key; each
result must equal the fake's own state: the true book's levels (best last, as served), the
market's fields, mid = (best bid + best ask) / 2 from the fake's book, and so on. The clients
are synchronous (httpx), so they run in a thread while the fake serves on the test's loop,
paused once trades have happened so that its state holds still.

The served book ``hash`` (REST ``/book``, ``/books`` and the market channel's ``book``) must
equal what the client's ``get_order_book_hash`` computes from the same book.

Not covered: ``get_market_trades_events`` (live activity, no shape in PROTOCOLS). The
rewards lists are served from the fake's markets, which run no rewards programme: empty.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from py_clob_client.client import ClobClient
from py_clob_client.clob_types import BookParams, OrderBookSummary, OrderSummary
from py_clob_client.clob_types import OrderType as V1OrderType
from py_clob_client_v2.client import ClobClient as ClobClientV2
from py_clob_client_v2.clob_types import BookParams as BookParamsV2
from py_clob_client_v2.clob_types import OrderType, PricesHistoryParams
from py_clob_client_v2.exceptions import PolyApiException as PolyApiExceptionV2

from pmtape.core.events import Level
from pmtape.core.fixed import parse_e6
from pmtape.venues.polymarket.fake.server import FakePolymarket
from tests.helpers import eventually

T = TypeVar("T")
POLYGON = 137
ONE_E6 = 1_000_000


async def call(fn: Callable[..., T], *args: Any) -> T:
    """Run one blocking client call in a thread while the fake serves on this loop."""
    return await asyncio.to_thread(fn, *args)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakePolymarket]:
    async with FakePolymarket(markets=8, rate=400, seed=31, trade_ratio=0.2) as venue:
        await eventually(lambda: len(venue.encoder.last_trade) >= 4)
        venue.pause()  # the state every answer is compared with holds still from here
        yield venue


def tokens_of(fake: FakePolymarket) -> list[str]:
    """Return some active tokens: the traded ones first, then an untraded one if any."""
    traded = [t for t in fake.active_tokens() if t in fake.encoder.last_trade]
    untraded = [t for t in fake.active_tokens() if t not in fake.encoder.last_trade]
    return traded[:4] + untraded[:1]


def top(fake: FakePolymarket, token: str) -> tuple[int, int]:
    bids, asks = fake.true_book(token)
    return bids[0][0], asks[0][0]


def e6(value: str | float | int) -> int:
    return parse_e6(str(value))


def served_levels(levels: list[Level]) -> list[tuple[int, int]]:
    """Return true best-first levels in the live ordering: best LAST."""
    return list(reversed(levels))


def market_of(fake: FakePolymarket, token: str) -> Any:
    market = fake.generator.market_of(token)
    assert market is not None
    return market


def check_market(fake: FakePolymarket, got: dict[str, Any]) -> None:
    """Assert a CLOB market object matches the fake's market of that condition id."""
    by_cid = {fake.condition_id(m): m for m in fake.generator.active_markets}
    m = by_cid[got["condition_id"]]
    assert got["question"] == m.title
    assert got["market_slug"] == m.slug
    assert (got["active"], got["closed"], got["accepting_orders"]) == (True, False, True)
    assert e6(got["minimum_tick_size"]) == m.tick_e6 == fake.tick_e6(m.token_ids[0])
    assert got["minimum_order_size"] == 5
    assert got["neg_risk"] is False
    assert [t["token_id"] for t in got["tokens"]] == list(m.token_ids)
    assert [t["outcome"] for t in got["tokens"]] == list(m.outcomes)
    for t in got["tokens"]:
        bid, ask = top(fake, t["token_id"])
        assert e6(t["price"]) == (bid + ask) // 2


def check_book_dict(fake: FakePolymarket, token: str, got: dict[str, Any]) -> None:
    """Assert a raw ``/book`` body has every field and equals the fake's true book."""
    assert list(got) == [
        "market",
        "asset_id",
        "timestamp",
        "hash",
        "bids",
        "asks",
        "min_order_size",
        "tick_size",
        "neg_risk",
        "last_trade_price",
    ]
    bids, asks = fake.true_book(token)
    assert [(e6(lv["price"]), e6(lv["size"])) for lv in got["bids"]] == served_levels(bids)
    assert [(e6(lv["price"]), e6(lv["size"])) for lv in got["asks"]] == served_levels(asks)
    assert got["market"] == fake.condition_id(market_of(fake, token))
    assert got["asset_id"] == token
    assert got["last_trade_price"] == fake.encoder.last_trade.get(token, "")
    assert e6(got["tick_size"]) == fake.tick_e6(token)
    assert got["min_order_size"] == "5"
    assert got["neg_risk"] is False


async def all_pages(fetch: Callable[[str], dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = "MA=="
    while cursor != "LTE=":
        page = await call(fetch, cursor)
        out.extend(page["data"])
        assert page["count"] == len(page["data"])
        cursor = page["next_cursor"]
    return out


@pytest.mark.asyncio
async def test_v1_client_reads_books_equal_to_the_fake(fake: FakePolymarket) -> None:
    client = ClobClient(fake.urls["clob_url"])
    tokens = tokens_of(fake)
    for token in tokens:
        book = await call(client.get_order_book, token)
        bids, asks = fake.true_book(token)
        assert [(e6(o.price), e6(o.size)) for o in book.bids] == served_levels(bids)
        assert [(e6(o.price), e6(o.size)) for o in book.asks] == served_levels(asks)
        assert book.asset_id == token
        assert book.market == fake.condition_id(market_of(fake, token))
        assert book.last_trade_price == fake.encoder.last_trade.get(token, "")
        assert (book.min_order_size, book.neg_risk) == ("5", False)
        assert e6(book.tick_size) == fake.tick_e6(token)
        served = book.hash
        assert served is not None
        assert len(served) == 40
        assert client.get_order_book_hash(book) == served
    books = await call(client.get_order_books, [BookParams(token_id=t) for t in tokens])
    assert [b.asset_id for b in books] == tokens
    for b in books:
        bids, _ = fake.true_book(b.asset_id)
        assert [(e6(o.price), e6(o.size)) for o in b.bids] == served_levels(bids)
        served = b.hash
        assert client.get_order_book_hash(b) == served


@pytest.mark.asyncio
async def test_v1_client_hash_of_market_channel_books_equals_the_served_one(
    fake: FakePolymarket,
) -> None:
    # A ``book`` frame lacks min_order_size and neg_risk: the market's ("5", false) count.
    client = ClobClient(fake.urls["clob_url"])
    books = [fake.encoder.book(fake.generator.snapshot_of(t)) for t in tokens_of(fake)]
    assert books
    assert any(b.last_trade_price for b in books)
    for msg in books:
        summary = OrderBookSummary(
            market=msg.market,
            asset_id=msg.asset_id,
            timestamp=msg.timestamp,
            bids=[OrderSummary(price=lv.price, size=lv.size) for lv in msg.bids],
            asks=[OrderSummary(price=lv.price, size=lv.size) for lv in msg.asks],
            min_order_size="5",
            neg_risk=False,
            tick_size=msg.tick_size,
            last_trade_price=msg.last_trade_price,
            hash="",
        )
        assert client.get_order_book_hash(summary) == msg.hash


@pytest.mark.asyncio
async def test_bad_hash_fault_serves_hashes_the_client_rejects(fake: FakePolymarket) -> None:
    client = ClobClient(fake.urls["clob_url"])
    fake.faults.bad_hash_prob = 1.0
    for token in tokens_of(fake):
        book = await call(client.get_order_book, token)
        served = book.hash
        assert served is not None
        assert len(served) == 40
        assert client.get_order_book_hash(book) != served


@pytest.mark.asyncio
async def test_v1_client_prices_equal_the_fake_book(fake: FakePolymarket) -> None:
    client = ClobClient(fake.urls["clob_url"])
    tokens = tokens_of(fake)
    params = [BookParams(token_id=t) for t in tokens]
    mids = await call(client.get_midpoints, params)
    spreads = await call(client.get_spreads, params)
    both = [BookParams(token_id=t, side=s) for t in tokens for s in ("BUY", "SELL")]
    prices = await call(client.get_prices, both)
    lasts = await call(client.get_last_trades_prices, params)
    assert [row["token_id"] for row in lasts] == tokens
    for token, last in zip(tokens, lasts, strict=True):
        bid, ask = top(fake, token)
        mid = await call(client.get_midpoint, token)
        assert e6(mid["mid"]) == e6(mids[token]) == (bid + ask) // 2
        assert Decimal(mid["mid"]) == (Decimal(bid) + Decimal(ask)) / 2 / ONE_E6
        buy = await call(client.get_price, token, "BUY")
        sell = await call(client.get_price, token, "SELL")
        assert (e6(buy["price"]), e6(sell["price"])) == (bid, ask)
        assert (e6(prices[token]["BUY"]), e6(prices[token]["SELL"])) == (bid, ask)
        spread = await call(client.get_spread, token)
        assert e6(spread["spread"]) == e6(spreads[token]) == ask - bid
        single = await call(client.get_last_trade_price, token)
        expected = {
            "price": fake.encoder.last_trade.get(token, "0.5"),
            "side": fake.encoder.last_trade_side.get(token, ""),
        }
        assert single == expected
        assert {"price": last["price"], "side": last["side"]} == expected
        assert e6(await call(client.get_tick_size, token)) == fake.tick_e6(token)
        assert await call(client.get_neg_risk, token) is False
        assert await call(client.get_fee_rate_bps, token) == 0


@pytest.mark.asyncio
async def test_v1_client_market_price_walks_the_fakes_book(fake: FakePolymarket) -> None:
    # ``calculate_market_price`` needs the order builder, which a v1 client only has with a
    # key; the key signs nothing here (the call reads ``/book`` only).
    client = ClobClient(fake.urls["clob_url"], key="0x" + "11" * 32, chain_id=POLYGON)
    walked = 0
    for token in tokens_of(fake):
        bids, asks = fake.true_book(token)
        if len(bids) < 2 or len(asks) < 2:
            continue
        walked += 1
        # Just more than the best ask's value (USDC) buys into the second-best ask.
        dollars = asks[0][0] * asks[0][1] / ONE_E6**2 + 0.01
        buy = await call(client.calculate_market_price, token, "BUY", dollars, V1OrderType.FOK)
        assert e6(buy) == asks[1][0]
        # Just more than the best bid's size (shares) sells into the second-best bid.
        shares = bids[0][1] / ONE_E6 + 0.5
        sell = await call(client.calculate_market_price, token, "SELL", shares, V1OrderType.FOK)
        assert e6(sell) == bids[1][0]
        # More shares than all the bids hold: a fill-or-kill finds no match.
        everything = sum(size for _, size in bids) / ONE_E6 + 1
        with pytest.raises(Exception, match="no match"):
            await call(client.calculate_market_price, token, "SELL", everything, V1OrderType.FOK)
    assert walked


@pytest.mark.asyncio
async def test_v2_client_reads_the_rewards_programmes_of_the_fake(fake: FakePolymarket) -> None:
    # The fake's markets run no liquidity-rewards programme (``rewards.rates`` is null).
    client = ClobClientV2(fake.urls["clob_url"], POLYGON)
    markets = fake.generator.active_markets
    assert all(fake.clob_market(m)["rewards"]["rates"] is None for m in markets)
    assert await call(client.get_current_rewards) == []
    for m in markets:
        assert await call(client.get_raw_rewards_for_market, fake.condition_id(m)) == []
    with pytest.raises(PolyApiExceptionV2) as err:
        await call(client.get_raw_rewards_for_market, "0x" + "ab" * 32)
    assert err.value.status_code == 404


@pytest.mark.asyncio
async def test_v1_client_reads_the_markets_of_the_fake(fake: FakePolymarket) -> None:
    client = ClobClient(fake.urls["clob_url"])
    assert await call(client.get_ok) == "OK"
    before = int(time.time())
    server_s = await call(client.get_server_time)
    assert before <= server_s <= int(time.time())
    cids = [fake.condition_id(m) for m in fake.generator.active_markets]
    for fetch in (client.get_markets, client.get_sampling_markets):
        markets = await all_pages(fetch)
        assert [m["condition_id"] for m in markets] == cids
        for m in markets:
            check_market(fake, m)
    for fetch in (client.get_simplified_markets, client.get_sampling_simplified_markets):
        simple = await all_pages(fetch)
        assert [m["condition_id"] for m in simple] == cids
        for s in simple:
            assert set(s) >= {"condition_id", "tokens", "rewards", "active", "closed"}
            assert s["accepting_orders"] is True
    one = await call(client.get_market, cids[0])
    check_market(fake, one)


@pytest.mark.asyncio
async def test_v2_client_reads_books_markets_and_prices_equal_to_the_fake(
    fake: FakePolymarket,
) -> None:
    client = ClobClientV2(fake.urls["clob_url"], POLYGON)
    tokens = tokens_of(fake)
    assert await call(client.get_ok) == "OK"
    assert await call(client.get_version) == 2
    before = int(time.time())
    assert before <= await call(client.get_server_time) <= int(time.time())
    cids = [fake.condition_id(m) for m in fake.generator.active_markets]
    for fetch in (client.get_markets, client.get_sampling_markets):
        markets = await all_pages(fetch)
        assert [m["condition_id"] for m in markets] == cids
    for fetch in (client.get_simplified_markets, client.get_sampling_simplified_markets):
        assert [m["condition_id"] for m in await all_pages(fetch)] == cids
    check_market(fake, await call(client.get_market, cids[0]))
    params = [BookParamsV2(token_id=t) for t in tokens]
    books = await call(client.get_order_books, params)
    assert [b["asset_id"] for b in books] == tokens
    mids = await call(client.get_midpoints, params)
    spreads = await call(client.get_spreads, params)
    both = [BookParamsV2(token_id=t, side=s) for t in tokens for s in ("BUY", "SELL")]
    prices = await call(client.get_prices, both)
    lasts = await call(client.get_last_trades_prices, params)
    for i, token in enumerate(tokens):
        check_book_dict(fake, token, await call(client.get_order_book, token))
        check_book_dict(fake, token, books[i])
        bid, ask = top(fake, token)
        assert e6((await call(client.get_midpoint, token))["mid"]) == (bid + ask) // 2
        assert e6(mids[token]) == (bid + ask) // 2
        assert e6((await call(client.get_price, token, "BUY"))["price"]) == bid
        assert e6((await call(client.get_price, token, "SELL"))["price"]) == ask
        assert (e6(prices[token]["BUY"]), e6(prices[token]["SELL"])) == (bid, ask)
        assert e6((await call(client.get_spread, token))["spread"]) == ask - bid
        assert e6(spreads[token]) == ask - bid
        last = await call(client.get_last_trade_price, token)
        assert last["price"] == fake.encoder.last_trade.get(token, "0.5")
        assert lasts[i] == {"token_id": token, **last}
        assert await call(client.get_neg_risk, token) is False
        assert await call(client.get_fee_rate_bps, token) == 0
        assert e6(await call(client.get_tick_size, token)) == fake.tick_e6(token)
        # Resolves the token's market (/markets-by-token, /clob-markets) and caches it.
        assert await call(client.get_fee_exponent, token) == 0
        market_price = await call(client.calculate_market_price, token, "BUY", 0.01, OrderType.FOK)
        assert e6(market_price) == ask


@pytest.mark.asyncio
async def test_v2_client_reads_compact_market_info_and_price_history(
    fake: FakePolymarket,
) -> None:
    client = ClobClientV2(fake.urls["clob_url"], POLYGON)
    market = fake.generator.active_markets[0]
    info = await call(client.get_clob_market_info, fake.condition_id(market))
    assert [t["t"] for t in info["t"]] == list(market.token_ids)
    assert e6(info["mts"]) == fake.tick_e6(market.token_ids[0])
    assert info["nr"] is False
    token = tokens_of(fake)[0]
    trades = [r for r in reversed(fake.recent_trades(None)) if r["token_id"] == token]
    assert trades, "the fixture waits for fills"
    lo, hi = trades[0]["timestamp"], trades[-1]["timestamp"]
    window = PricesHistoryParams(market=token, start_ts=lo, end_ts=hi, fidelity=1)
    history = (await call(client.get_prices_history, window))["history"]
    last_per_minute: dict[int, float] = {}
    for r in trades:
        last_per_minute[r["timestamp"] // 60 * 60] = r["price"]
    assert history == [{"t": t, "p": p} for t, p in sorted(last_per_minute.items())]
    whole = PricesHistoryParams(market=token, interval="max", fidelity=1)
    assert (await call(client.get_prices_history, whole))["history"] == history
    before = PricesHistoryParams(market=token, start_ts=lo - 7200, end_ts=lo - 3600)
    assert (await call(client.get_prices_history, before))["history"] == []
