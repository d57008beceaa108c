"""Gamma discovery against the fake and a scripted listing: pagination, filters, active sets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from pmtape.config.models import PolymarketVenueConfig
from pmtape.core.clock import now_ms
from pmtape.core.events import MarketStatus
from pmtape.discovery.service import discover_once
from pmtape.venues.polymarket.discovery import GammaDiscovery, iso_ms, json_strings
from pmtape.venues.polymarket.fake.server import FakeFaults, FakePolymarket
from tests.venues.polymarket.util import adapter_for

GAMMA_FIXTURES = Path(__file__).parents[2] / "fixtures" / "polymarket" / "gamma"
DECOY_SUFFIXES = ("-no_book", "-expired", "-inactive", "-closed")


@pytest.mark.asyncio
async def test_keyset_pages_are_followed_and_decoys_filtered_out() -> None:
    async with FakePolymarket(markets=230, rate=10, seed=31) as fake:
        adapter = adapter_for(fake, discovery_page_size=100)
        result = await adapter.discover(now_ms())
        stats = fake.snapshot_stats()
        assert stats["http GET /gamma/markets/keyset"] >= 3
        assert "http GET /gamma/markets" not in stats
        slugs = {m.slug for m in result.markets}
        assert len(result.markets) == 230
        assert not any(s.endswith(DECOY_SUFFIXES) for s in slugs)
        assert len(result.instruments) == 2 * len(result.markets)
        assert {i.poll_key for i in result.instruments} == set(fake.active_tokens())
        assert all(len(i.poll_key) >= 70 and i.poll_key.isdigit() for i in result.instruments)
        assert {i.outcome for i in result.instruments} == {"Yes", "No"}
        assert all(i.market_id.isdigit() for i in result.instruments)
        rejected = adapter.discovery.stats
        # Inactive and closed decoys are filtered by the server (active=true, closed=false).
        assert rejected["rejected_no_book"]
        assert rejected["rejected_expired"]
        assert len(result.raw) == 230
        assert isinstance(result.raw[0]["clobTokenIds"], str)


@pytest.mark.asyncio
async def test_the_legacy_offset_form_is_the_fallback_and_422_ends_it() -> None:
    faults = FakeFaults(keyset=False, legacy_max_offset=100)
    async with FakePolymarket(markets=230, rate=10, seed=32, faults=faults) as fake:
        adapter = adapter_for(fake, discovery_page_size=100)
        legacy = await adapter.discover(now_ms())
        stats = fake.snapshot_stats()
        assert stats["http GET /gamma/markets"] == 3  # offsets 0 and 100, then 200 -> 422
        faults.keyset = True
        keyset = await adapter_for(fake, discovery_page_size=100).discover(now_ms())
        # The offset pages stop early (422 past offset 100): a prefix of the full listing.
        legacy_ids = [m.market_id for m in legacy.markets]
        assert 0 < len(legacy_ids) < len(keyset.markets)
        assert legacy_ids == [m.market_id for m in keyset.markets][: len(legacy_ids)]


@pytest.mark.asyncio
async def test_rules_tags_slugs_liquidity_and_cap() -> None:
    async with FakePolymarket(
        markets=120, rate=10, seed=33, rolling_share=0.3, rolling_period_s=900
    ) as fake:
        crypto = await adapter_for(fake, tags=["Crypto"]).discover(now_ms())
        assert crypto.markets
        assert all("crypto" in m.tags for m in crypto.markets)
        btc = await adapter_for(fake, slug_patterns=["btc-updown-15m-*"]).discover(now_ms())
        assert btc.markets
        assert all(m.slug.startswith("btc-updown-15m-") for m in btc.markets)
        everything = await adapter_for(fake).discover(now_ms())
        liquid = await adapter_for(fake, min_liquidity=5000).discover(now_ms())
        assert 0 < len(liquid.markets) < len(everything.markets)
        assert all(m["liquidityNum"] >= 5000 for m in liquid.raw)
        top = await adapter_for(fake, max_markets=5).discover(now_ms())
        assert len(top.markets) == 5
        by_activity = sorted((m.activity or 0 for m in everything.markets), reverse=True)
        assert sorted((m.activity or 0 for m in top.markets), reverse=True) == by_activity[:5]


class ScriptedRest:
    """Stands in for PolymarketRest: each discover() call gets the next scripted listing."""

    def __init__(self, *runs: list[dict[str, Any]]) -> None:
        self.runs = list(runs)

    async def iter_markets(
        self, params: Mapping[str, Any], *, page_size: int, max_pages: int
    ) -> AsyncIterator[tuple[list[dict[str, Any]], int]]:
        yield self.runs.pop(0), 0


T0 = 1_790_000_000_000


def _market(gid: str, **fields: Any) -> dict[str, Any]:
    market = {
        "id": gid,
        "question": f"Q{gid}?",
        "slug": f"q-{gid}",
        "endDate": "2099-01-01T00:00:00Z",
        "outcomes": '["Yes", "No"]',
        "clobTokenIds": f'["{gid}1", "{gid}2"]',
        "active": True,
        "closed": False,
        "enableOrderBook": True,
        "volume24hr": 10.0,
    }
    market.update(fields)
    return market


@pytest.mark.asyncio
async def test_strict_replaces_the_set_each_run() -> None:
    disc = GammaDiscovery(PolymarketVenueConfig(active_set="strict"))
    rest = ScriptedRest([_market("1"), _market("2")], [_market("1")])
    first = await disc.discover(rest, T0 + 1_000)  # type: ignore[arg-type]
    second = await disc.discover(rest, T0 + 2_000)  # type: ignore[arg-type]
    assert [m.market_id for m in first.markets] == ["1", "2"]
    assert [m.market_id for m in second.markets] == ["1"]


@pytest.mark.asyncio
async def test_sticky_keeps_unseen_markets_for_the_grace_window_only() -> None:
    disc = GammaDiscovery(PolymarketVenueConfig(active_set="sticky", sticky_grace_s=10))
    rest = ScriptedRest(
        [_market("1"), _market("2"), _market("3")],
        [_market("1")],  # 2 and 3 unseen (a failed page, a moved ranking): kept
        [_market("1"), _market("3", closed=True)],  # 3 seen closed: gone at once
        [_market("1")],  # 2 unseen for longer than the grace window: gone
    )
    await disc.discover(rest, T0)  # type: ignore[arg-type]
    kept = await disc.discover(rest, T0 + 5_000)  # type: ignore[arg-type]
    assert sorted(m.market_id for m in kept.markets) == ["1", "2", "3"]
    assert {i.rule for i in kept.instruments if i.market_id == "2"} == {"gamma-sticky"}
    assert [m["id"] for m in kept.raw] == ["1"]  # only what was fetched goes to the log
    closed = await disc.discover(rest, T0 + 8_000)  # type: ignore[arg-type]
    assert sorted(m.market_id for m in closed.markets) == ["1", "2"]
    late = await disc.discover(rest, T0 + 20_000)  # type: ignore[arg-type]
    assert [m.market_id for m in late.markets] == ["1"]


@pytest.mark.asyncio
async def test_a_resolution_from_the_channel_drops_a_sticky_market() -> None:
    disc = GammaDiscovery(PolymarketVenueConfig(active_set="sticky"))
    rest = ScriptedRest([_market("1"), _market("2")], [])
    await disc.discover(rest, T0)  # type: ignore[arg-type]
    disc.apply_status(MarketStatus("2", "resolved", ["21", "22"], None, T0))
    after = await disc.discover(rest, T0 + 1_000)  # type: ignore[arg-type]
    assert [m.market_id for m in after.markets] == ["1"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fields", "kept"),
    [
        ({}, True),
        ({"closed": True}, False),
        ({"archived": True}, False),
        ({"active": False}, False),
        ({"active": None}, False),
        ({"enableOrderBook": False}, False),
        ({"endDate": "2020-01-01T00:00:00Z"}, False),
        ({"clobTokenIds": "not json"}, False),
        ({"clobTokenIds": '["11"]'}, False),  # one token, two outcomes
        ({"clobTokenIds": ["11", "12"], "outcomes": ["Yes", "No"]}, True),  # real arrays too
        ({"endDate": None}, True),
    ],
)
async def test_market_level_filters(fields: dict[str, Any], kept: bool) -> None:
    disc = GammaDiscovery(PolymarketVenueConfig())
    result = await disc.discover(ScriptedRest([_market("1", **fields)]), T0)  # type: ignore[arg-type]
    assert bool(result.markets) is kept


@pytest.mark.asyncio
async def test_each_cycle_appends_raw_payloads_with_fetch_stamps(tmp_path: Path) -> None:
    async with FakePolymarket(markets=12, rate=10, seed=34) as fake:
        adapter = adapter_for(fake)
        (summary,) = await discover_once(tmp_path, {"polymarket": adapter})
        await discover_once(tmp_path, {"polymarket": adapter})
    assert summary.markets == 12
    assert summary.error is None
    lines = _markets_log(tmp_path)
    assert len(lines) == 24
    assert all(line["fetched_at_ms"] > 0 and "clobTokenIds" in line["payload"] for line in lines)


@pytest.mark.asyncio
async def test_a_documented_gamma_page_becomes_two_instruments_per_book_market() -> None:
    page = json.loads((GAMMA_FIXTURES / "markets_keyset_page.json").read_text())
    disc = GammaDiscovery(PolymarketVenueConfig())
    result = await disc.discover(ScriptedRest(page["markets"]), T0)  # type: ignore[arg-type]
    (market,) = result.markets  # the second one has no order book
    yes, no = result.instruments
    assert market.market_id == "612345"
    assert market.outcome_ids == [yes.poll_key, no.poll_key]
    assert yes.poll_key == "48213390571184452209913382277463019283746501928374650192837465019283"
    assert (yes.outcome, no.outcome) == ("Yes", "No")
    assert yes.instrument_id == yes.poll_key
    assert yes.expiration == market.close_ts == 1_797_447_600_000
    assert yes.tags == ["economy", "fed"]
    assert yes.underlying == "fed-decision-december-2026"
    assert yes.activity == 40231.77
    assert result.raw == page["markets"][:1]
    assert disc.stats["rejected_no_book"] == 1


def _markets_log(data_dir: Path) -> list[dict[str, Any]]:
    (log,) = list(data_dir.glob("markets/venue=polymarket/date=*/markets_*.jsonl"))
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_gamma_string_encoded_arrays_and_dates() -> None:
    assert json_strings('["Yes", "No"]') == ["Yes", "No"]
    assert json_strings(["a", "b"]) == ["a", "b"]
    assert json_strings("[1, 2]") == []
    assert json_strings("") == []
    assert json_strings(None) == []
    assert json_strings("{") == []
    assert iso_ms("2026-12-16T19:00:00Z") == 1_797_447_600_000
    assert iso_ms("2026-09-01T14:02:11.512Z") == 1_788_271_331_512
    assert iso_ms("2026-12-16") == 1_797_379_200_000
    assert iso_ms("soon") is None
    assert iso_ms(None) is None
