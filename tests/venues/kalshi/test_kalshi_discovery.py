"""Kalshi discovery against the fake: open markets, cursor pages, decoys out, rules applied."""

from __future__ import annotations

import pytest

from pmtape.core.clock import now_ms
from pmtape.venues.kalshi.fake.server import FakeKalshi
from tests.venues.kalshi.util import adapter_for


@pytest.mark.asyncio
async def test_every_open_market_is_one_yes_instrument_and_decoys_stay_out() -> None:
    async with FakeKalshi(markets=20, seed=21) as fake:
        adapter = adapter_for(fake, discovery_page_size=3)
        result = await adapter.discover(now_ms())
    assert sorted(i.poll_key for i in result.instruments) == sorted(fake.active_tickers())
    inst = result.instruments[0]
    assert inst.instrument_id == "YES"
    assert inst.market_id == inst.poll_key
    assert inst.venue == "kalshi"
    assert inst.expiration is not None
    assert inst.expiration > now_ms()
    assert inst.underlying is not None
    assert inst.underlying.startswith("KX")
    stats = adapter.discovery.stats
    assert stats["pages"] >= 8  # 20 markets and 3 late decoys, three a page, to the last cursor
    assert stats["rejected_expired"] == 3  # listed as open seconds after closing
    assert stats.get("rejected_status", 0) == 0  # unopened/settled decoys filtered server-side
    activity = [i.activity or 0.0 for i in result.instruments]
    assert activity == sorted(activity, reverse=True)  # busiest first
    assert {m.market_id for m in result.markets} == {i.market_id for i in result.instruments}


@pytest.mark.asyncio
async def test_categories_series_and_the_cap_narrow_the_set() -> None:
    async with FakeKalshi(markets=30, seed=22) as fake:
        everything = await adapter_for(fake).discover(now_ms())
        politics = await adapter_for(fake, categories=["politics"]).discover(now_ms())
        series = politics.instruments[0].underlying
        assert series is not None
        one_series = await adapter_for(fake, series=[series]).discover(now_ms())
        capped = await adapter_for(fake, max_markets=5).discover(now_ms())
    assert 0 < len(politics.instruments) < len(everything.instruments)
    assert all("politics" in i.tags for i in politics.instruments)
    assert {i.underlying for i in one_series.instruments} == {series}
    busiest = sorted((i.activity or 0.0 for i in everything.instruments), reverse=True)[:5]
    assert [i.activity for i in capped.instruments] == busiest
