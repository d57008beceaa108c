"""Limitless discovery: pages of 25, CLOB only, funded and unexpired, underlyings, groups."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import pytest

from pmtape.config.models import LimitlessVenueConfig
from pmtape.core.clock import now_ms
from pmtape.venues.limitless.discovery import LimitlessDiscovery
from pmtape.venues.limitless.fake.server import FakeLimitless
from tests.venues.limitless.util import adapter_for


@pytest.mark.asyncio
async def test_every_funded_clob_market_is_one_book_and_decoys_stay_out() -> None:
    async with FakeLimitless(markets=40, seed=41, rolling_share=0.25) as fake:
        adapter = adapter_for(fake)
        result = await adapter.discover(now_ms())
    assert sorted(i.poll_key for i in result.instruments) == sorted(fake.active_slugs())
    inst = result.instruments[0]
    assert inst.instrument_id == "BOOK"
    assert inst.market_id == inst.slug == inst.poll_key
    stats = adapter.discovery.stats
    assert stats["pages"] == 3  # 40 markets + decoys, 25 a page
    assert stats["groups"] == 4  # slots 5, 15, 25, 35: their child is the market
    assert stats["rejected_no_tokens"] == stats["rejected_status"] == stats["rejected_expired"] == 5
    rolling = [i for i in result.instruments if "-up-or-down-" in i.slug]
    assert rolling
    assert all(i.underlying == i.slug.split("-")[0] for i in rolling)


@pytest.mark.asyncio
async def test_underlyings_and_categories_narrow_the_set() -> None:
    async with FakeLimitless(markets=40, seed=42, rolling_share=0.25) as fake:
        btc = await adapter_for(fake, underlyings=["btc"]).discover(now_ms())
        crypto = await adapter_for(fake, categories=["crypto"]).discover(now_ms())
        both = await adapter_for(fake, underlyings=["BTC", "eth"]).discover(now_ms())
    assert btc.instruments
    assert all(i.slug.startswith("btc-up-or-down-") for i in btc.instruments)
    assert {i.underlying for i in both.instruments} == {"btc", "eth"}
    assert len(crypto.instruments) >= len(both.instruments)
    assert all("crypto" in i.tags for i in crypto.instruments)


class _Listing:
    """A stand-in for the REST client: one page of raw market objects."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    async def iter_active(
        self, params: Any, *, page_size: int, max_pages: int
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        yield self.rows


@pytest.mark.asyncio
async def test_amm_markets_and_markets_without_tokens_are_excluded() -> None:
    now = now_ms()
    good = {
        "slug": "eth-up-or-down-hourly-1",
        "tradeType": "clob",
        "status": "FUNDED",
        "expirationTimestamp": now + 60_000,
        "tokens": {"yes": "1", "no": "2"},
    }
    rows = [
        good,
        {**good, "slug": "pool", "tradeType": "amm", "tokens": None, "address": "0x1"},
        {**good, "slug": "tokenless", "tokens": {}},
        {**good, "slug": "resolved", "status": "RESOLVED"},
        {**good, "slug": "over", "expirationTimestamp": now - 1},
        {"slug": 7},
    ]
    discovery = LimitlessDiscovery(LimitlessVenueConfig())
    result = await discovery.discover(_Listing(rows), now)  # type: ignore[arg-type]
    assert [i.poll_key for i in result.instruments] == ["eth-up-or-down-hourly-1"]
    for reason in ("amm", "no_tokens", "status", "expired", "malformed"):
        assert discovery.stats[f"rejected_{reason}"] == 1, reason


@pytest.mark.asyncio
async def test_the_fake_refuses_big_pages_and_pythons_default_user_agent() -> None:
    async with FakeLimitless(markets=3) as fake, aiohttp.ClientSession() as http:
        base = fake.urls["rest_url"]
        async with http.get(base + "/markets/active?limit=50") as resp:
            assert resp.status == 400
        headers = {"User-Agent": "Python-urllib/3.11"}
        async with http.get(base + "/markets/active", headers=headers) as resp:
            assert resp.status == 403
        async with http.get(base + "/markets/active?page=9") as resp:
            assert await resp.json() == {"data": [], "totalMarketsCount": 0}
