"""The official client (kalshi_python_sync) reads the fake Kalshi: its models judge the bodies.

Every public market-data method is called through the client, with its host set to the
fake's REST URL and a key pair the fake knows, and the parsed model must equal the fake's
own state parsed by the same model.

kalshi_python_sync 3.2.0 is the newest release that installs on Python 3.11 (later ones
need Python 3.13), and its models predate the fixed-point migration: they still require
the legacy integer fields removed from every response on 2026-03-12 (``yes_bid``,
``volume``, trade ``count``/``yes_price``, ...), ``tick_size`` (removed 2026-05-07) and
the legacy ``orderbook`` key instead of ``orderbook_fp`` (PROTOCOLS §2.4, §2.7). The
current venue sends none of those, and neither does the fake. Where a 3.2.0 model needs
them, the test reads the raw body through the client (``*_without_preload_content``)
and adds the missing legacy keys (never overwriting one the fake sent) before the model
validates it; every current field is still judged by the model. Methods whose 3.2.0
model matches the current wire are called plainly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import kalshi_python_sync as kalshi
import msgspec
import pytest
import pytest_asyncio
from kalshi_python_sync.models import (
    ExchangeStatus,
    GetEventMetadataResponse,
    GetEventResponse,
    GetEventsResponse,
    GetExchangeAnnouncementsResponse,
    GetExchangeScheduleResponse,
    GetMarketOrderbookResponse,
    GetMarketResponse,
    GetMarketsResponse,
    GetSeriesFeeChangesResponse,
    GetSeriesListResponse,
    GetSeriesResponse,
    GetTradesResponse,
)
from pydantic import BaseModel

from pmtape.core.clock import now_ms
from pmtape.venues.kalshi.fake import catalog
from pmtape.venues.kalshi.fake.server import FakeKalshi
from tests.helpers import eventually
from tests.venues.kalshi.util import KEY_ID, throwaway_key

M = TypeVar("M", bound=BaseModel)

# Fields kalshi_python_sync 3.2.0 requires that the current API no longer sends (§2.4):
# legacy cents/counts, ``tick_size``, and a few the current field list (§2.5.1) lacks.
_LEGACY_MARKET: dict[str, Any] = {
    "response_price_units": "usd_cent",
    "yes_bid": 0,
    "yes_ask": 0,
    "no_bid": 0,
    "no_ask": 0,
    "last_price": 0,
    "volume": 0,
    "volume_24h": 0,
    "open_interest": 0,
    "notional_value": 0,
    "previous_yes_bid": 0,
    "previous_yes_ask": 0,
    "previous_price": 0,
    "liquidity": 0,
    "tick_size": 1,
    "risk_limit_cents": 0,
    "category": "",
}
_LEGACY_TRADE: dict[str, Any] = {"price": 0, "count": 0, "yes_price": 0, "no_price": 0}
# 3.2.0's market status enum predates ``finalized`` (the response word for settled, §2.5.1).
_STATUS_3_2 = {"finalized": "settled"}


def _legacy_market(market: dict[str, Any]) -> dict[str, Any]:
    out = {**_LEGACY_MARKET, **market}
    out.setdefault("expiration_time", market.get("latest_expiration_time"))
    out["status"] = _STATUS_3_2.get(out.get("status", ""), out.get("status"))
    return out


def _legacy(body: dict[str, Any]) -> dict[str, Any]:
    """Add the keys 3.2.0's models require and the current wire no longer carries."""
    out = dict(body)
    if "markets" in out and isinstance(out["markets"], list):
        out["markets"] = [_legacy_market(m) for m in out["markets"]]
    if "market" in out:
        out["market"] = _legacy_market(out["market"])
    if "event" in out:
        out["event"] = _legacy(out["event"])
    if "events" in out:
        out["events"] = [_legacy(e) for e in out["events"]]
    if "trades" in out:
        out["trades"] = [{**_LEGACY_TRADE, **t} for t in out["trades"]]
    if "orderbook_fp" in out:  # 3.2.0 reads the book under its pre-2026 key
        out["orderbook"] = out.pop("orderbook_fp")
    return out


def _judge(model: type[M], body: Any) -> M:
    """Validate ``body`` (raw JSON value, with legacy keys added) with the client's model."""
    parsed = model.from_dict(_legacy(msgspec.to_builtins(body)))  # type: ignore[attr-defined]
    assert isinstance(parsed, model)
    return parsed


class Client:
    """The official client on the fake, each call run in a thread (it is synchronous)."""

    def __init__(self, rest_url: str, key_pem: str) -> None:
        api = kalshi.ApiClient(kalshi.Configuration(host=rest_url))
        # ApiClient.set_kalshi_auth raises NameError in 3.2.0 (KalshiAuth not imported there).
        api.kalshi_auth = kalshi.KalshiAuth(KEY_ID, key_pem)
        self.markets = kalshi.MarketApi(api)
        self.events = kalshi.EventsApi(api)
        self.exchange = kalshi.ExchangeApi(api)

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def raw(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call a ``*_without_preload_content`` method; return the decoded JSON body."""
        resp = await asyncio.to_thread(fn, *args, **kwargs)
        assert resp.status == 200, resp.data
        return json.loads(resp.data)


@pytest_asyncio.fixture
async def venue(tmp_path: Path) -> AsyncIterator[tuple[FakeKalshi, Client]]:
    key, public = throwaway_key(tmp_path)
    async with FakeKalshi(markets=10, rate=400, trade_ratio=0.3, keys={KEY_ID: public}) as fake:
        await eventually(lambda: len(fake.recent_trades(None, 0)) >= 3)
        await fake.quiesce()  # the state holds still while it is compared
        yield fake, Client(fake.urls["rest_url"], key.read_text())


def _stable(markets: list[Any]) -> list[Any]:
    # A "-LATE" decoy closed "10 s ago" by the fake's clock: its times move between reads.
    moving = dict.fromkeys(("close_time", "latest_expiration_time", "expiration_time"))
    return [m.model_copy(update=moving) if m.ticker.endswith("-LATE") else m for m in markets]


@pytest.mark.asyncio
async def test_get_markets_and_get_market_parse_to_the_fakes_markets(
    venue: tuple[FakeKalshi, Client],
) -> None:
    fake, client = venue
    mine = fake.market_objects()
    rows: list[Any] = []
    cursor = None
    while True:
        fn = client.markets.get_markets_without_preload_content
        page = _judge(GetMarketsResponse, await client.raw(fn, limit=7, cursor=cursor))
        rows += page.markets
        cursor = page.cursor
        if not cursor:
            break
    expected = _judge(GetMarketsResponse, {"markets": mine, "cursor": ""}).markets
    assert _stable(rows) == _stable(expected)
    by_ticker = {m.ticker: m for m in rows}
    for m in rows:
        if m.status == "active" and not m.ticker.endswith("-LATE"):
            assert (m.no_bid_dollars, m.no_ask_dollars) == (
                _complement(m.yes_ask_dollars),
                _complement(m.yes_bid_dollars),
            )
            assert float(m.created_time.timestamp()) < float(m.open_time.timestamp())
            assert m.price_ranges
            assert m.settlement_timer_seconds > 0
    open_only = GetMarketsResponse
    fn = client.markets.get_markets_without_preload_content
    page = _judge(open_only, await client.raw(fn, status="open", limit=1000))
    assert {m.status for m in page.markets} == {"active"}
    ticker = fake.active_tickers()[0]
    fn = client.markets.get_market_without_preload_content
    body = await client.raw(fn, ticker)
    assert _judge(GetMarketResponse, body).market == by_ticker[ticker]
    # 3.2.0's model has no ``*_fp`` counts (added 2026-01-29; its models are older): raw body.
    market = body["market"]
    assert float(market["volume_fp"]) >= float(market["volume_24h_fp"]) > 0
    assert market["can_close_early"] is False


def _complement(px: str) -> str:
    return f"{1 - float(px):.4f}"


@pytest.mark.asyncio
async def test_get_market_orderbook_parses_to_the_fakes_ladders(
    venue: tuple[FakeKalshi, Client],
) -> None:
    fake, client = venue
    fn = client.markets.get_market_orderbook_without_preload_content
    for ticker in fake.active_tickers():
        for depth in (None, 3):
            body = await client.raw(fn, ticker, depth=depth)
            assert set(body["orderbook_fp"]) == {"yes_dollars", "no_dollars"}
            book = _judge(GetMarketOrderbookResponse, body).orderbook
            mine = fake.rest_book(ticker, depth or 0)
            assert mine is not None
            assert book.yes_dollars == [list(lv) for lv in mine.yes_dollars]
            assert book.no_dollars == [list(lv) for lv in mine.no_dollars]


@pytest.mark.asyncio
async def test_get_trades_parses_to_the_fakes_trades(venue: tuple[FakeKalshi, Client]) -> None:
    fake, client = venue
    fn = client.markets.get_trades_without_preload_content
    page = _judge(GetTradesResponse, await client.raw(fn, limit=1000))
    expected = _judge(GetTradesResponse, {"trades": fake.recent_trades(None, 0), "cursor": ""})
    assert page.trades == expected.trades
    assert page.cursor == ""
    ticker = page.trades[0].ticker
    one = _judge(GetTradesResponse, await client.raw(fn, ticker=ticker, limit=1000))
    assert one.trades == [t for t in expected.trades if t.ticker == ticker]


@pytest.mark.asyncio
async def test_get_events_and_get_event_parse_to_the_fakes_events(
    venue: tuple[FakeKalshi, Client],
) -> None:
    fake, client = venue
    # Without nested markets the 3.2.0 model fits the current wire: a plain call.
    events = await client.call(client.events.get_events, limit=200)
    assert isinstance(events, GetEventsResponse)
    expected = _judge(GetEventsResponse, {"events": fake.event_objects(None, False), "cursor": ""})
    assert events == expected
    assert all(e.sub_title and e.mutually_exclusive for e in events.events)
    fn = client.events.get_events_without_preload_content
    nested = _judge(GetEventsResponse, await client.raw(fn, with_nested_markets=True))
    mine = _judge(GetEventsResponse, {"events": fake.event_objects(None, True), "cursor": ""})
    for got, want in zip(nested.events, mine.events, strict=True):
        assert _stable(got.markets or []) == _stable(want.markets or [])
        assert got.model_copy(update={"markets": None}) == want.model_copy(update={"markets": None})
    ticker = events.events[0].event_ticker
    fn = client.events.get_event_without_preload_content
    one = _judge(GetEventResponse, await client.raw(fn, ticker, with_nested_markets=True))
    assert one.event.event_ticker == ticker
    assert _stable(one.markets) == _stable(nested.events[0].markets or [])


@pytest.mark.asyncio
async def test_get_series_list_and_get_series_parse_to_the_fakes_series(
    venue: tuple[FakeKalshi, Client],
) -> None:
    fake, client = venue
    listing = await client.call(client.markets.get_series_list)
    assert isinstance(listing, GetSeriesListResponse)
    assert listing == GetSeriesListResponse.from_dict(
        msgspec.to_builtins({"series": fake.series_objects()})
    )
    ticker = listing.series[0].ticker
    one = await client.call(client.markets.get_series, ticker)
    assert isinstance(one, GetSeriesResponse)
    assert one.series == listing.series[0]
    with pytest.raises(kalshi.NotFoundException):
        await client.call(client.markets.get_series, "KXNOPE")


@pytest.mark.asyncio
async def test_get_exchange_status(venue: tuple[FakeKalshi, Client]) -> None:
    _, client = venue
    status = await client.call(client.exchange.get_exchange_status)
    assert status == ExchangeStatus(exchange_active=True, trading_active=True)


@pytest.mark.asyncio
async def test_exchange_schedule_and_announcements_equal_the_fakes(
    venue: tuple[FakeKalshi, Client],
) -> None:
    _, client = venue
    got = await client.call(client.exchange.get_exchange_schedule)
    assert isinstance(got, GetExchangeScheduleResponse)
    now = now_ms()
    assert got == GetExchangeScheduleResponse.from_dict(catalog.schedule(now))
    (window,) = got.schedule.maintenance_windows
    assert window.start_datetime.weekday() == 3  # Thursday
    assert window.end_datetime.timestamp() * 1000 > now
    (week,) = got.schedule.standard_hours
    assert week.sunday == week.monday != []
    news = await client.call(client.exchange.get_exchange_announcements)
    assert isinstance(news, GetExchangeAnnouncementsResponse)
    assert news == GetExchangeAnnouncementsResponse.from_dict(catalog.announcements(now))
    assert window.start_datetime.isoformat()[:19] in news.announcements[0].message


@pytest.mark.asyncio
async def test_series_fee_changes_equal_the_fakes_series(
    venue: tuple[FakeKalshi, Client],
) -> None:
    fake, client = venue
    series = fake.series_objects()
    upcoming = await client.call(client.exchange.get_series_fee_changes)
    assert isinstance(upcoming, GetSeriesFeeChangesResponse)
    assert upcoming == GetSeriesFeeChangesResponse.from_dict(
        catalog.fee_changes(series, now_ms(), historical=False)
    )
    assert [c.series_ticker for c in upcoming.series_fee_change_arr] == [s.ticker for s in series]
    assert all(
        c.fee_type != s.fee_type
        for c, s in zip(upcoming.series_fee_change_arr, series, strict=True)
    )
    one = series[0]
    both = await client.call(
        client.exchange.get_series_fee_changes, series_ticker=one.ticker, show_historical=True
    )
    assert both == GetSeriesFeeChangesResponse.from_dict(
        catalog.fee_changes([one], now_ms(), historical=True)
    )
    past, future = both.series_fee_change_arr
    assert past.scheduled_ts < future.scheduled_ts
    assert past.fee_type == one.fee_type


@pytest.mark.asyncio
async def test_event_metadata_names_every_market_of_the_event(
    venue: tuple[FakeKalshi, Client],
) -> None:
    fake, client = venue
    series = {s.ticker: s for s in fake.series_objects()}
    for event in fake.event_objects(None, nested=True):
        got = await client.call(client.events.get_event_metadata, event.event_ticker)
        assert isinstance(got, GetEventMetadataResponse)
        assert got == GetEventMetadataResponse.from_dict(
            catalog.event_metadata(event, series[event.series_ticker])
        )
        assert [d.market_ticker for d in got.market_details] == [
            m.ticker for m in event.markets or []
        ]
        assert [s.name for s in got.settlement_sources] == ["Sim"]
    with pytest.raises(kalshi.NotFoundException):
        await client.call(client.events.get_event_metadata, "KXNOPE-26")
