"""The fake Kalshi speaks the venue's command protocol: replies, error codes, pings, REST."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
import pytest_asyncio

from pmtape.core.events import TopOfBook
from pmtape.venues.kalshi.adapter import KalshiAdapter
from pmtape.venues.kalshi.fake.server import FakeKalshi, KalshiFakeFaults
from pmtape.venues.kalshi.normalize import KalshiNormalizer
from tests.venues.kalshi.util import KEY_ID, adapter_for, throwaway_key


@pytest_asyncio.fixture
async def wire(tmp_path: Path) -> AsyncIterator[tuple[FakeKalshi, aiohttp.ClientWebSocketResponse]]:
    key, public = throwaway_key(tmp_path)
    faults = KalshiFakeFaults(ping_interval_s=0.1)
    async with FakeKalshi(markets=4, rate=50, keys={KEY_ID: public}, faults=faults) as fake:
        signer = adapter_for(fake, key).signer()
        headers = signer.headers("GET", "/trade-api/ws/v2")
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(fake.urls["ws_url"], headers=headers, autoping=False)
            yield fake, ws
            await ws.close()


async def _ask(ws: aiohttp.ClientWebSocketResponse, cmd: dict[str, Any]) -> dict[str, Any]:
    await ws.send_json(cmd)
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type is aiohttp.WSMsgType.PING:
            continue
        reply: dict[str, Any] = msg.json()
        if reply.get("id") == cmd.get("id", 0) or reply["type"] == "error":
            return reply


@pytest.mark.asyncio
async def test_commands_get_the_documented_replies_and_error_codes(
    wire: tuple[FakeKalshi, aiohttp.ClientWebSocketResponse],
) -> None:
    fake, ws = wire
    ticker = fake.active_tickers()[0]
    sub = {"channels": ["orderbook_delta"], "market_tickers": [ticker]}
    reply = await _ask(ws, {"id": 1, "cmd": "subscribe", "params": sub})
    assert reply == {"id": 1, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 1}}
    snapshot = (await ws.receive(timeout=5)).json()
    assert (snapshot["type"], snapshot["sid"], snapshot["seq"]) == ("orderbook_snapshot", 1, 1)
    upd = "update_subscription"
    snap = "get_snapshot"
    codes = {
        2: {"id": 2, "cmd": "subscribe"},
        3: {"id": 3, "cmd": "subscribe", "params": {"market_tickers": [ticker]}},
        8: {"id": 4, "cmd": "subscribe", "params": {"channels": ["ticker_v2"]}},
        14: {"id": 5, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}},
        16: {"id": 6, "cmd": "subscribe", "params": {**sub, "market_tickers": ["KXNOPE"]}},
        12: {"id": 7, "cmd": upd, "params": {"sids": [1, 2], "action": snap}},
        15: {"id": 8, "cmd": upd, "action": snap, "params": {"sids": [1]}},  # action outside
        7: {"id": 9, "cmd": upd, "params": {"sid": 9, "action": "add_markets"}},
        13: {"id": 10, "cmd": upd, "params": {"sid": 1, "action": "merge"}},
        5: {"id": 11, "cmd": "resubscribe"},
    }
    for code, cmd in codes.items():
        reply = await _ask(ws, cmd)
        assert reply["type"] == "error", cmd
        assert reply["msg"]["code"] == code, cmd
    # The scalar ``sid`` form works too; ok replies carry the sid's next seq.
    params = {"sid": 1, "market_tickers": [ticker], "action": "get_snapshot"}
    reply = await _ask(ws, {"id": 12, "cmd": "update_subscription", "params": params})
    assert (reply["type"], reply["sid"], reply["seq"]) == ("ok", 1, 2)
    listing = await _ask(ws, {"id": 13, "cmd": "list_subscriptions"})
    assert listing["msg"] == [{"channel": "orderbook_delta", "sid": 1}]
    await ws.send_str("{not json")
    assert (await _ask(ws, {"id": 0}))["msg"]["code"] == 1


@pytest.mark.asyncio
async def test_the_server_pings_with_heartbeat(
    wire: tuple[FakeKalshi, aiohttp.ClientWebSocketResponse],
) -> None:
    _, ws = wire
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.PING
    assert msg.data == b"heartbeat"


@pytest.mark.asyncio
async def test_rest_refuses_bad_limits_and_the_active_filter_word() -> None:
    async with FakeKalshi(markets=3) as fake, aiohttp.ClientSession() as http:
        base = fake.urls["rest_url"]
        for query in ("status=active", "limit=1001", "cursor=%%%"):
            async with http.get(f"{base}/markets?{query}") as resp:
                assert resp.status == 400, query
        async with http.get(f"{base}/markets/{fake.active_tickers()[0]}/orderbook") as resp:
            body = await resp.json()
        assert set(body) == {"orderbook_fp"}  # the single-market body names no ticker
        adapter: KalshiAdapter = adapter_for(fake)
        assert await adapter.fetch_books(["KXNOPE-1", "KXNOPE-2"]) == []
        books = await adapter.fetch_books([*fake.active_tickers(), "KXNOPE-1"])
    (body_bytes, _, meta) = books[0]
    assert meta.status == 200
    assert body_bytes.count(b'"ticker"') == len(fake.active_tickers())


async def _data(ws: aiohttp.ClientWebSocketResponse, kind: str, n: int) -> list[dict[str, Any]]:
    """Collect ``n`` data frames of type ``kind`` (skipping pings and other types)."""
    out: list[dict[str, Any]] = []
    while len(out) < n:
        msg = await ws.receive(timeout=10)
        if msg.type is aiohttp.WSMsgType.TEXT and msg.json()["type"] == kind:
            out.append(msg.json())
    return out


@pytest_asyncio.fixture
async def busy(tmp_path: Path) -> AsyncIterator[tuple[FakeKalshi, aiohttp.ClientWebSocketResponse]]:
    key, public = throwaway_key(tmp_path)
    async with FakeKalshi(markets=6, rate=400, trade_ratio=0.3, keys={KEY_ID: public}) as fake:
        headers = adapter_for(fake, key).signer().headers("GET", "/trade-api/ws/v2")
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(fake.urls["ws_url"], headers=headers)
            yield fake, ws
            await ws.close()


@pytest.mark.asyncio
async def test_trade_and_ticker_without_tickers_stream_every_market(
    busy: tuple[FakeKalshi, aiohttp.ClientWebSocketResponse],
) -> None:
    fake, ws = busy
    reply = await _ask(ws, {"id": 1, "cmd": "subscribe", "params": {"channels": ["trade"]}})
    assert reply["msg"] == {"channel": "trade", "sid": 1}
    reply = await _ask(ws, {"id": 2, "cmd": "subscribe", "params": {"channels": ["ticker"]}})
    assert reply["msg"] == {"channel": "ticker", "sid": 2}
    trades = await _data(ws, "trade", 40)
    tickers = await _data(ws, "ticker", 40)
    active = set(fake.active_tickers())
    assert len({t["msg"]["market_ticker"] for t in trades}) > 1
    assert len({t["msg"]["market_ticker"] for t in tickers}) > 1
    assert {t["msg"]["market_ticker"] for t in trades + tickers} <= active
    assert [t["seq"] for t in trades] == sorted(t["seq"] for t in trades)
    assert all("seq" not in t and t["sid"] == 2 for t in tickers)  # ticker carries no seq


@pytest.mark.asyncio
async def test_ticker_frames_carry_the_true_top_of_book_and_normalize(
    busy: tuple[FakeKalshi, aiohttp.ClientWebSocketResponse],
) -> None:
    fake, ws = busy
    ticker = fake.active_tickers()[0]
    params = {"channels": ["ticker"], "market_tickers": [ticker]}
    await _ask(ws, {"id": 1, "cmd": "subscribe", "params": params})
    await _data(ws, "ticker", 3)
    await fake.quiesce()
    last: dict[str, Any] | None = None
    with contextlib.suppress(TimeoutError):
        while True:  # drain what was sent before the pause; the last one is current
            msg = await ws.receive(timeout=0.5)
            if msg.type is aiohttp.WSMsgType.TEXT and msg.json()["type"] == "ticker":
                last = msg.json()
    if last is None:
        fake.resume()
        last = (await _data(ws, "ticker", 1))[0]
        await fake.quiesce()
    body = last["msg"]
    assert body["market_ticker"] == ticker
    assert set(body) >= {"price_dollars", "volume_fp", "open_interest_fp", "ts_ms", "time"}
    normalizer = KalshiNormalizer()
    (top,) = normalizer.normalize(msgspec.json.encode(last), 1)
    assert isinstance(top, TopOfBook)
    bids, asks = fake.true_book(ticker)
    assert (top.bid_px_e6, top.ask_px_e6) == (bids[0][0], asks[0][0])
    market = next(m for m in fake.market_objects() if m.ticker == ticker)
    assert (body["yes_bid_dollars"], body["yes_ask_dollars"]) == (
        market.yes_bid_dollars,
        market.yes_ask_dollars,
    )


@pytest.mark.asyncio
async def test_an_empty_book_side_is_an_empty_list_on_rest_and_in_ws_snapshots(
    wire: tuple[FakeKalshi, aiohttp.ClientWebSocketResponse],
) -> None:
    fake, ws = wire
    ticker = fake.active_tickers()[0]
    fake.pause()
    fake.ladders.no[ticker] = {}  # nobody bids NO: the YES book has no asks
    params = {"channels": ["orderbook_delta"], "market_tickers": [ticker]}
    await _ask(ws, {"id": 1, "cmd": "subscribe", "params": params})
    snapshot = (await _data(ws, "orderbook_snapshot", 1))[0]
    assert snapshot["msg"]["no_dollars_fp"] == []
    assert snapshot["msg"]["yes_dollars_fp"]
    url = f"{fake.urls['rest_url']}/markets/{ticker}/orderbook"
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        body = await resp.json()
    assert body["orderbook_fp"]["no_dollars"] == []
