"""The official Limitless SDK (limitless-sdk) reads the fake as it reads the venue.

Every public market-data call of the SDK is pointed at the fake, and what its own models parse
must equal the fake's state: the REST markets, market detail (and the venue it caches), order
book, and the Socket.IO stream through the SDK's ``WebSocketClient`` (subscribe, the books,
oracle noise, lifecycle, unsubscribe with its ack), and python-socketio's own client gets
an ack for every event it ``call``s. The SDK is async: it runs on the test loop.
The ``MarketPageFetcher`` calls (navigation, market pages by path with their 301 redirects,
a page's markets by offset and by cursor, property keys and options) equal the fake's taxonomy.
"""

from __future__ import annotations

import functools
import sys
import types
import typing
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Literal, Union

import msgspec
import pytest
import pytest_asyncio
import socketio

from pmtape.core.clock import now_ms
from pmtape.venues.limitless.fake import pages
from pmtape.venues.limitless.fake.server import FakeLimitless, LimitlessFakeFaults
from tests.helpers import eventually

# Importing the SDK imports py_ecc (via its signing stack), which raises the interpreter's
# recursion limit to 100000 for the whole process: other tests' past-the-limit inputs would
# then overflow the C stack instead of raising RecursionError. Put the limit back.
_RECURSION_LIMIT = sys.getrecursionlimit()
from limitless_sdk import (  # noqa: E402
    APIError,
    Client,
    HttpClient,
    MarketFetcher,
    MarketPageFetcher,
    WebSocketClient,
    WebSocketConfig,
)
from limitless_sdk.types.market_pages import (  # noqa: E402
    MarketPage,
    MarketPageMarketsCursorResponse,
    MarketPageMarketsOffsetResponse,
    NavigationNode,
    PropertyKey,
    PropertyOption,
)
from limitless_sdk.types.markets import ActiveMarketsParams, Market, OrderBook  # noqa: E402
from limitless_sdk.websocket.types import (  # noqa: E402
    MarketResolvedEvent,
    OraclePriceData,
    OrderbookUpdate,
)

sys.setrecursionlimit(_RECURSION_LIMIT)

_EXPIRED = "-expired"


def _dump(model: Any) -> Any:
    """The fields a model was given, under their wire names."""
    return model.model_dump(by_alias=True, exclude_unset=True)


def _wire(value: Any) -> Any:
    return msgspec.to_builtins(value)


def _conforms(value: Any, hint: Any) -> bool:
    """Whether ``value`` is an instance of ``hint`` (the SDK's stream types are TypedDicts,
    which pydantic cannot validate on Python < 3.12)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if typing.is_typeddict(hint):
        hints = typing.get_type_hints(hint)
        return (
            isinstance(value, dict)
            and hint.__required_keys__ <= value.keys()
            and all(_conforms(v, hints[k]) for k, v in value.items() if k in hints)
        )
    if origin in (Union, types.UnionType):
        return any(_conforms(value, a) for a in args)
    if origin is Literal:
        return value in args
    if origin is list:
        return isinstance(value, list) and all(_conforms(v, args[0]) for v in value)
    if hint is None or hint is type(None):
        return value is None
    return isinstance(value, hint)


def _without_clock(row: dict[str, Any]) -> dict[str, Any]:
    # The "-expired" decoy's deadline is one minute before "now" at the time of the answer.
    if row["slug"].endswith(_EXPIRED):
        assert row.pop("expirationTimestamp") < now_ms()
    return row


async def _walk(fetcher: MarketFetcher) -> tuple[list[Market], int]:
    rows: list[Market] = []
    total = -1
    for page in range(1, 100):
        resp = await fetcher.get_active_markets(
            ActiveMarketsParams(limit=25, page=page, sort_by="newest")
        )
        if not resp.data:
            assert resp.total_markets_count == 0
            return rows, total
        total = resp.total_markets_count
        rows.extend(resp.data)
    raise AssertionError("/markets/active never ran out of pages")


@pytest.mark.asyncio
async def test_active_markets_parse_into_the_sdk_models_and_equal_the_fake_listing() -> None:
    async with FakeLimitless(markets=40) as fake, Client(base_url=fake.urls["rest_url"]) as sdk:
        rows, total = await _walk(sdk.markets)
        listing = fake.listing()
        assert total == len(listing) == len(rows)
        assert {m.trade_type for m in rows} == {"clob", "amm"}
        assert {m.market_type for m in rows} == {"single", "group"}
        assert [_without_clock(_dump(m)) for m in rows] == [
            _without_clock(_wire(m)) for m in listing
        ]
        groups = [m for m in rows if m.market_type == "group"]
        assert groups
        assert all(g.markets and g.markets[0].tokens for g in groups)
        raw = await sdk.markets.get_active_markets(
            ActiveMarketsParams(limit=5, page=1), with_raw_response=True
        )
        assert raw.status == 200
        assert raw.headers["x-ratelimit-remaining"] == "100"


@pytest.mark.asyncio
async def test_market_detail_equals_the_fake_and_caches_its_venue() -> None:
    async with FakeLimitless(markets=6) as fake:
        http = HttpClient(base_url=fake.urls["rest_url"])
        try:
            fetcher = MarketFetcher(http)
            for slug in fake.active_slugs():
                market = await fetcher.get_market(slug)
                assert isinstance(market, Market)
                assert _dump(market) == _wire(fake.market_detail(slug))
                assert market.venue is not None
                assert fetcher.get_venue(slug) == market.venue
            with pytest.raises(APIError) as err:
                await fetcher.get_market("no-such-market")
            assert err.value.status_code == 404
        finally:
            await http.close()


@pytest.mark.asyncio
async def test_orderbook_parses_into_the_sdk_model_and_equals_the_true_book() -> None:
    async with FakeLimitless(markets=5) as fake:
        http = HttpClient(base_url=fake.urls["rest_url"])
        try:
            fetcher = MarketFetcher(http)
            fake.pause()
            for slug in fake.active_slugs():
                book = await fetcher.get_orderbook(slug)
                assert isinstance(book, OrderBook)
                wire = _wire(fake.book(slug, rest=True))
                # ``midpoint`` came with newer payloads (§3.3.2); SDK 1.3.0 does not model it.
                assert wire.pop("midpoint") == book.adjusted_midpoint
                assert _dump(book) == wire
                bids, asks = fake.true_book(slug)
                assert [(round(b.price * 1e6), b.size) for b in book.bids] == bids
                assert [(round(a.price * 1e6), a.size) for a in book.asks] == asks
                detail = fake.market_detail(slug)
                assert detail is not None
                assert detail.tokens is not None
                assert book.token_id == detail.tokens["yes"]
            with pytest.raises(APIError) as err:
                await fetcher.get_orderbook("no-such-market")
            assert err.value.status_code == 404
        finally:
            await http.close()


async def _page_rows(pages: MarketPageFetcher, page_id: str, **params: Any) -> list[Market]:
    """Every market of a page, walked by offset pages of 7, checking the pagination block."""
    rows: list[Market] = []
    for number in range(1, 100):
        resp = await pages.get_markets(page_id, {"page": number, "limit": 7, **params})
        assert isinstance(resp, MarketPageMarketsOffsetResponse)
        assert (resp.pagination.page, resp.pagination.limit) == (number, 7)
        rows.extend(resp.data)
        if number >= resp.pagination.total_pages:
            assert len(rows) == resp.pagination.total
            return rows
    raise AssertionError("/market-pages/{id}/markets never ran out of pages")


async def _cursor_rows(pages: MarketPageFetcher, page_id: str) -> list[Market]:
    """Every market of a page, walked by cursor pages of 4."""
    rows: list[Market] = []
    cursor: str | None = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        resp = await pages.get_markets(page_id, params)
        assert isinstance(resp, MarketPageMarketsCursorResponse)
        rows.extend(resp.data)
        cursor = resp.cursor.next_cursor
        if cursor is None:
            return rows
    raise AssertionError("the cursor never ran out")


def _rows(markets: list[Market]) -> list[Any]:
    return [_without_clock(_dump(m)) for m in markets]


def _expected(fake: FakeLimitless, filters: list[tuple[str, list[str]]]) -> list[Any]:
    return [_without_clock(_wire(m)) for m in fake.listing() if pages.matches(m, filters)]


@pytest_asyncio.fixture
async def site() -> AsyncIterator[tuple[FakeLimitless, MarketPageFetcher]]:
    """A fake with every category of the sim, and the SDK's market-pages fetcher on it."""
    async with FakeLimitless(markets=40) as fake, Client(base_url=fake.urls["rest_url"]) as sdk:
        yield fake, sdk.market_pages


async def _status(answer: Awaitable[Any]) -> int:
    """The HTTP status of the ``APIError`` an SDK call must raise."""
    with pytest.raises(APIError) as err:
        await answer
    return int(err.value.status_code)


@pytest.mark.asyncio
async def test_navigation_and_market_pages_equal_the_fakes_taxonomy(
    site: tuple[FakeLimitless, MarketPageFetcher],
) -> None:
    fake, fetcher = site
    listing = fake.listing()
    tree = await fetcher.get_navigation()
    assert all(isinstance(n, NavigationNode) for n in tree)
    assert [_dump(n) for n in tree] == _wire(pages.navigation(listing))
    assert {n.slug for n in tree} >= {"crypto", "politics", "sports"}
    by_path = pages.market_pages(listing)
    nodes = [*tree, *(c for n in tree for c in n.children)]
    assert len(nodes) == len(by_path) > len(tree)
    for node in nodes:
        page = await fetcher.get_market_page_by_path(node.path)
        assert isinstance(page, MarketPage)
        assert _dump(page) == _wire(by_path[node.path])
        assert page.breadcrumb[-1].path == node.path
    # A moved page answers 301; the SDK follows the Location to the current one.
    moved = await fetcher.get_market_page_by_path(f"{pages.LEGACY_PREFIX}/crypto")
    assert isinstance(moved, MarketPage)
    assert _dump(moved) == _wire(by_path["/crypto"])
    assert await _status(fetcher.get_market_page_by_path("/no-such-page")) == 404


@pytest.mark.asyncio
async def test_market_page_markets_are_the_fakes_rows_filtered_sorted_and_paged(
    site: tuple[FakeLimitless, MarketPageFetcher],
) -> None:
    fake, fetcher = site
    by_path = pages.market_pages(fake.listing())
    for page in by_path.values():
        wanted = _expected(fake, [(k, [v]) for k, v in page.baseFilter.items()])
        assert wanted
        assert _rows(await _page_rows(fetcher, page.id)) == wanted
        assert _rows(await _cursor_rows(fetcher, page.id)) == wanted
    # A query filter narrows the page's own; ``-deadline`` sorts latest deadline first.
    politics = by_path["/politics"]
    tags = [o.value for o in politics.filterGroups[0].options[:2]]
    rows = await _page_rows(fetcher, politics.id, filters={"tag": tags}, sort="-deadline")
    narrowed = _expected(fake, [("category", ["politics"]), ("tag", tags)])
    assert 0 < len(rows) < len(_expected(fake, [("category", ["politics"])]))
    assert sorted(_rows(rows), key=lambda r: r["id"]) == sorted(narrowed, key=lambda r: r["id"])
    deadlines = [m.expiration_timestamp for m in rows]
    assert deadlines == sorted(deadlines, reverse=True)
    # A query filter never widens a page: the politics page has no crypto markets.
    crypto = await _page_rows(fetcher, politics.id, filters={"category": "crypto"})
    assert crypto == []
    ids = [m.id for m in await _page_rows(fetcher, politics.id, sort="id")]
    assert ids == sorted(ids)
    for bad in ({"cursor": "%%%"}, {"filters": {"colour": "red"}}):
        assert await _status(fetcher.get_markets(politics.id, bad)) == 400
    with pytest.raises(ValueError, match="mutually exclusive"):
        await fetcher.get_markets(politics.id, {"page": 1, "cursor": "x"})
    assert await _status(fetcher.get_markets("page-nowhere")) == 404


@pytest.mark.asyncio
async def test_property_keys_and_options_equal_the_fakes_taxonomy(
    site: tuple[FakeLimitless, MarketPageFetcher],
) -> None:
    fake, fetcher = site
    keys = pages.property_keys(fake.listing())
    got = await fetcher.get_property_keys()
    assert all(isinstance(k, PropertyKey) for k in got)
    assert [_dump(k) for k in got] == _wire(keys)
    for key in keys:
        one = await fetcher.get_property_key(key.id)
        assert _dump(one) == _wire(key)
        options = await fetcher.get_property_options(key.id)
        assert all(isinstance(o, PropertyOption) for o in options)
        assert [_dump(o) for o in options] == _wire(key.options)
    category, tag = keys
    assert category.options
    assert tag.options
    for parent in category.options:
        under = await fetcher.get_property_options(tag.id, parent_id=parent.id)
        assert under
        assert [_dump(o) for o in under] == [
            _wire(o) for o in tag.options if o.parentOptionId == parent.id
        ]
    assert await _status(fetcher.get_property_key("pk-nothing")) == 404


@pytest.mark.asyncio
async def test_the_sdk_websocket_client_subscribes_reads_books_and_unsubscribes() -> None:
    faults = LimitlessFakeFaults(oracle_prob=1.0)
    async with FakeLimitless(markets=4, rolling_share=0.5, faults=faults) as fake:
        await fake.quiesce()
        slugs = fake.active_slugs()
        events: dict[str, list[Any]] = {}

        def recorder(name: str) -> Any:
            async def record(data: Any) -> None:
                events.setdefault(name, []).append(data)

            return record

        ws = WebSocketClient(
            WebSocketConfig(url=fake.urls["ws_url"], api_key=None, auto_reconnect=False)
        )
        for name in ("orderbookUpdate", "system", "oraclePriceData", "marketResolved"):
            ws.on(name, recorder(name))
        await ws.connect()
        try:
            await eventually(lambda: bool(events.get("system")))
            assert events["system"][0] == {"message": "Successfully registered connection"}

            await ws.subscribe("subscribe_market_prices", {"marketSlugs": slugs})
            await eventually(lambda: len(events.get("orderbookUpdate", [])) == len(slugs))
            assert events["system"][1]["markets"] == slugs
            for update in events["orderbookUpdate"]:
                assert _conforms(update, OrderbookUpdate)
                assert update["orderbook"] == _wire(fake.book(update["marketSlug"], rest=False))
            assert [u["marketSlug"] for u in events["orderbookUpdate"]] == slugs

            fake.resume()
            await eventually(lambda: bool(events.get("oraclePriceData")))
            oracle = events["oraclePriceData"][0]
            assert _conforms(oracle, OraclePriceData)
            assert oracle["marketSlug"] in slugs
            await fake.quiesce()

            await ws.subscribe("subscribe_market_lifecycle")
            await eventually(
                lambda: fake.snapshot_stats().get("ws_emit_subscribe_market_lifecycle")
            )
            fake.feed.resolved([slugs[0]], now_ms())
            await eventually(lambda: len(events.get("marketResolved", [])) == 3)
            resolved = events["marketResolved"][0]
            assert _conforms(resolved, MarketResolvedEvent)
            assert resolved["slug"] == slugs[0]
            assert resolved["type"] == "CLOB"

            # The SDK's unsubscribe waits for the server's ack (a Socket.IO ``call``).
            await ws.unsubscribe("subscribe_market_prices", {"marketSlugs": slugs[1:2]})
            (conn,) = fake.feed.conns
            assert list(conn.subs) == slugs[2:]
            await ws.unsubscribe("subscribe_market_prices")
            assert not conn.subs
            await ws.unsubscribe("subscribe_market_lifecycle")
            assert not conn.lifecycle
            assert fake.snapshot_stats()["ws_acks"] == 3
        finally:
            await ws.disconnect()
        await eventually(lambda: not fake.feed.conns)


@pytest.mark.asyncio
async def test_an_unknown_channel_is_refused_through_the_ack() -> None:
    async with FakeLimitless(markets=2) as fake:
        ws = WebSocketClient(
            WebSocketConfig(url=fake.urls["ws_url"], api_key=None, auto_reconnect=False)
        )
        await ws.connect()
        try:
            with pytest.raises(ValueError, match="Unsubscribe failed"):
                await ws.unsubscribe("subscribe_live_sports")
        finally:
            await ws.disconnect()
        assert fake.snapshot_stats()["ws_unsubscribe_unknown_channel"] == 1


@pytest.mark.asyncio
async def test_a_socketio_client_gets_an_ack_for_every_event_that_asks() -> None:
    """python-socketio's own client (the SDK's transport) ``call``s each channel event."""
    async with FakeLimitless(markets=3) as fake:
        await fake.quiesce()
        slugs = fake.active_slugs()
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(fake.urls["ws_url"], namespaces=["/markets"], transports=["websocket"])
        try:
            call = functools.partial(client.call, namespace="/markets", timeout=5)
            ack = await call("subscribe_market_prices", {"marketSlugs": slugs})
            assert ack == {
                "message": "Successfully subscribed to market price updates",
                "markets": slugs,
            }
            (conn,) = fake.feed.conns
            assert list(conn.subs) == slugs
            assert (await call("subscribe_market_lifecycle"))["message"].startswith("Successfully")
            assert conn.lifecycle
            gone = await call(
                "unsubscribe", {"channel": "subscribe_market_prices", "marketSlugs": slugs[:1]}
            )
            assert gone["markets"] == slugs[:1]
            assert list(conn.subs) == slugs[1:]
            await call("unsubscribe_market_lifecycle")
            assert not conn.lifecycle
            assert "error" in await call("subscribe_nothing", {})
            assert fake.snapshot_stats()["ws_acks"] == 5
        finally:
            await client.disconnect()
