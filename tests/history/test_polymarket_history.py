"""Polymarket's history hooks against the fake's Data API: both envelopes, and its refusals."""

from __future__ import annotations

import aiohttp
import pytest

from pmtape.core.errors import VenueProtocolError
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.polymarket.history import parse_trades_v1, parse_trades_v2, trades_request
from tests.history.util import truth_rows

pytestmark = pytest.mark.asyncio


def _market_with_trades(fake: FakePolymarket, at_least: int) -> str:
    for m, cid in fake.markets_of([]):
        if len(fake.data_api.history.trades(m, cid)) >= at_least:
            return cid
    raise AssertionError("no market with enough trades")


async def _get(url: str, params: dict[str, object]) -> tuple[int, bytes]:
    query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
    async with aiohttp.ClientSession() as s, s.get(url, params=query) as r:
        return r.status, await r.read()


async def test_v2_cursor_pages_and_v1_offset_pages_give_the_same_trades() -> None:
    async with FakePolymarket(markets=4, history_trades=120, seed=31) as fake:
        cid = _market_with_trades(fake, 60)
        truth = truth_rows(fake.data_api.truth([cid]))
        v2 = []
        cursor = None
        while True:
            status, body = await _get(*trades_request(fake.urls["data_url"], cid, cursor, 25))
            assert status == 200
            page = parse_trades_v2(body)
            v2.extend(page.rows)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        v1 = []
        for offset in range(0, 10_000, 25):
            params = {"market": cid, "limit": 25, "offset": offset}
            status, body = await _get(fake.urls["data_url"] + "/trades", params)
            rows = parse_trades_v1(body)
            v1.extend(rows)
            if len(rows) < 25:
                break
    for rows in (v1, v2):
        got = [
            (r.transaction_hash, r.token_id, r.side, r.ts_s, r.price_e6, r.size_e6, r.proxy_wallet)
            for r in rows
        ]
        assert sorted(got) == sorted(truth.elements())
        assert [r.ts_s for r in rows] == sorted((r.ts_s for r in rows), reverse=True)


async def test_the_data_api_refuses_what_the_venue_refuses() -> None:
    async with FakePolymarket(markets=3, history_trades=100, seed=33) as fake:
        fake.faults.v1_max_offset = 50
        data = fake.urls["data_url"]
        cid = _market_with_trades(fake, 30)
        status, _ = await _get(data + "/v2/trades", {"condition": cid, "offset": 10})
        assert status == 400  # v2 is cursor only
        status, body = await _get(*trades_request(data, cid, None, 10))
        cursor = parse_trades_v2(body).next_cursor
        assert cursor is not None
        other = next(c for _, c in fake.markets_of([]) if c != cid)
        status, _ = await _get(data + "/v2/trades", {"condition": other, "cursor": cursor})
        assert status == 400  # a cursor pins its filter
        status, _ = await _get(data + "/trades", {"market": cid, "offset": 60})
        assert status == 400  # the v1 offset cap


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [], "pagination": nul',
        b'{"data": [{"side": "BUY"}], "pagination": {"has_more": false}}',
        b'{"data": [], "pagination": {"has_more": "no"}}',
        b"[1, 2",
    ],
)
async def test_a_bad_page_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(VenueProtocolError):
        parse_trades_v2(body)
