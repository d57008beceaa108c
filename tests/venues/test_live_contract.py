"""Contract drift: the real venues' responses and frames against what the fakes serve.

Each live test makes the same requests of the venue, at pmtape's default URLs (the venue
settings), and of its fake on loopback, and fails with one line per field whose name or JSON
type differs (tests/venues/contract.py). One reachability probe per venue (a TCP connect, 5 s
at most) skips the venue's tests when the internet is not there. They are marked ``live``
(``make live``), never in the default run; the last test runs every sampler against the fakes
on loopback, by default, so that a live failure means drift, not broken plumbing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from pmtape.net.http import USER_AGENT
from pmtape.venues.kalshi.fake.server import FakeKalshi
from pmtape.venues.kalshi.settings import KalshiVenueConfig
from pmtape.venues.limitless import sio
from pmtape.venues.limitless.constants import EMIT_SUBSCRIBE, EV_ORDERBOOK, NAMESPACE
from pmtape.venues.limitless.fake.server import FakeLimitless
from pmtape.venues.limitless.settings import LimitlessVenueConfig
from pmtape.venues.limitless.ws import engineio_url
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.polymarket.settings import PolymarketVenueConfig
from pmtape.venues.polymarket.ws import MarketChannelProtocol
from tests.venues.contract import compare

CONNECT_S = 5.0
REQUEST_S = 20.0
FRAME_WAIT_S = 20.0
SAMPLE = 20
"""Markets asked for per listing: enough to mix item shapes, few enough to stay polite."""

Samples = dict[str, tuple[str, list[Any]]]
"""Request name -> (root path name, decoded documents)."""

_probed: dict[str, str | None] = {}  # host -> why it is unreachable (None: reachable)


class NoSample(Exception):
    """The venue (or fake) offered nothing to sample, e.g. no book frame in time."""


async def require_internet(venue: str, url: str) -> None:
    """Skip unless ``url``'s host takes a TCP connection within CONNECT_S (probed once)."""
    split = urlsplit(url)
    host = split.hostname or ""
    port = split.port or 443
    if host not in _probed:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_S)
        except (OSError, TimeoutError) as exc:
            _probed[host] = f"{type(exc).__name__}: {exc}"
        else:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            _probed[host] = None
    why = _probed[host]
    if why is not None:
        pytest.skip(f"{venue}: {host}:{port} unreachable ({why}); live tests need the internet")


@contextlib.asynccontextmanager
async def http_client() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client with pmtape's User-Agent and short connect and request timeouts."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_S, sock_connect=CONNECT_S)
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as http:
        yield http


async def get_json(http: aiohttp.ClientSession, url: str, **params: str) -> Any:
    """GET ``url``; return its decoded JSON body, skip on a geo/ban refusal, fail otherwise."""
    async with http.get(url, params=params) as resp:
        body = await resp.read()
        if resp.status in (403, 451):
            pytest.skip(f"GET {url} refused from here (HTTP {resp.status})")
        assert resp.status == 200, f"GET {url} {params}: HTTP {resp.status}: {body[:300]!r}"
        return json.loads(body)


def fail_on_drift(venue: Samples, fake: Samples) -> None:
    """Fail with every request's drift report, if any request drifted."""
    reports = [
        compare(what, venue_docs, fake[what][1], root) for what, (root, venue_docs) in venue.items()
    ]
    drift = "\n\n".join(r for r in reports if r)
    if drift:
        pytest.fail(drift, pytrace=False)


async def sample_or_skip(coro: Any, side: str) -> Samples:
    """Await a sampler; a venue with nothing to sample skips, a fake with nothing fails."""
    try:
        samples: Samples = await coro
    except NoSample as exc:
        if side == "venue":
            pytest.skip(f"venue: {exc}")
        pytest.fail(f"fake: {exc}", pytrace=False)
    return samples


# -- Polymarket (§1) ---------------------------------------------------------------------------


async def pm_book_token(http: aiohttp.ClientSession, urls: Mapping[str, str]) -> tuple[Any, str]:
    """Return the Gamma listing and a token of it whose CLOB book is served."""
    markets = await get_json(
        http, urls["gamma_url"] + "/markets", limit=str(SAMPLE), active="true", closed="false"
    )
    for market in markets:
        if market.get("enableOrderBook") and market.get("clobTokenIds"):
            return markets, json.loads(market["clobTokenIds"])[0]
    raise NoSample("no market of the listing has an order book")


async def pm_rest(urls: Mapping[str, str]) -> Samples:
    """Gamma ``/markets`` and CLOB ``/book`` of a token it lists."""
    async with http_client() as http:
        markets, token = await pm_book_token(http, urls)
        book = await get_json(http, urls["clob_url"] + "/book", token_id=token)
    return {"Gamma GET /markets": ("markets", [markets]), "CLOB GET /book": ("book", [book])}


async def pm_feed(urls: Mapping[str, str]) -> Samples:
    """The first ``book`` event of the market channel for a listed token."""
    async with http_client() as http:
        _, token = await pm_book_token(http, urls)
        async with http.ws_connect(urls["ws_url"], autoping=True) as ws:
            for frame in MarketChannelProtocol().open_frames([token]):
                await ws.send_str(frame)
            deadline = time.monotonic() + FRAME_WAIT_S
            while (left := deadline - time.monotonic()) > 0:
                msg = await ws.receive(timeout=left)
                if msg.type is not aiohttp.WSMsgType.TEXT or msg.data == "PONG":
                    continue
                decoded = json.loads(msg.data)
                for event in decoded if isinstance(decoded, list) else [decoded]:
                    if event.get("event_type") == "book":
                        return {"market channel book": ("book", [event])}
    raise NoSample(f"no book event for {token} within {FRAME_WAIT_S:.0f} s")


def pm_venue_urls() -> dict[str, str]:
    config = PolymarketVenueConfig()
    return {"gamma_url": config.gamma_url, "clob_url": config.clob_url, "ws_url": config.ws_url}


@pytest.mark.live
@pytest.mark.asyncio
async def test_polymarket_rest_matches_the_venue() -> None:
    urls = pm_venue_urls()
    await require_internet("polymarket", urls["gamma_url"])
    venue = await sample_or_skip(pm_rest(urls), "venue")
    async with FakePolymarket(markets=12, rate=50, seed=61) as fake:
        samples = await sample_or_skip(pm_rest(fake.urls), "fake")
    fail_on_drift(venue, samples)


@pytest.mark.live
@pytest.mark.asyncio
async def test_polymarket_feed_matches_the_venue() -> None:
    urls = pm_venue_urls()
    await require_internet("polymarket", urls["gamma_url"])
    venue = await sample_or_skip(pm_feed(urls), "venue")
    async with FakePolymarket(markets=12, rate=50, seed=62) as fake:
        samples = await sample_or_skip(pm_feed(fake.urls), "fake")
    fail_on_drift(venue, samples)


# -- Kalshi (§2): public REST only; its WebSocket wants a signed key ------------------------------


async def kalshi_rest(rest_url: str) -> Samples:
    """``/markets``, ``/markets/{ticker}/orderbook`` of a listed ticker, ``/events``."""
    async with http_client() as http:
        markets = await get_json(http, rest_url + "/markets", limit=str(SAMPLE), status="open")
        if not markets.get("markets"):
            raise NoSample("no open market listed")
        ticker = markets["markets"][0]["ticker"]
        book = await get_json(http, f"{rest_url}/markets/{ticker}/orderbook")
        events = await get_json(http, rest_url + "/events", limit=str(SAMPLE))
    return {
        "GET /markets": ("markets", [markets]),
        "GET /markets/{ticker}/orderbook": ("orderbook", [book]),
        "GET /events": ("events", [events]),
    }


@pytest.mark.live
@pytest.mark.asyncio
async def test_kalshi_rest_matches_the_venue() -> None:
    rest_url = KalshiVenueConfig().rest_url
    await require_internet("kalshi", rest_url)
    venue = await sample_or_skip(kalshi_rest(rest_url), "venue")
    async with FakeKalshi(markets=12, rate=50, seed=63) as fake:
        samples = await sample_or_skip(kalshi_rest(fake.urls["rest_url"]), "fake")
    fail_on_drift(venue, samples)


# -- Limitless (§3) ----------------------------------------------------------------------------


async def limitless_listing(http: aiohttp.ClientSession, rest_url: str) -> tuple[Any, str]:
    """Return the first ``/markets/active`` page and the slug of a CLOB market on it."""
    page = await get_json(http, rest_url + "/markets/active", limit="25", page="1")
    rows = list(page.get("data") or [])
    rows += [child for row in rows for child in row.get("markets") or []]
    for row in rows:
        if row.get("tradeType") == "clob" and row.get("marketType") != "group":
            return page, row["slug"]
    raise NoSample("no CLOB market on the first page of /markets/active")


async def limitless_rest(rest_url: str) -> Samples:
    """``/markets/active`` and ``/markets/{slug}/orderbook`` of a CLOB market on it."""
    async with http_client() as http:
        page, slug = await limitless_listing(http, rest_url)
        book = await get_json(http, f"{rest_url}/markets/{slug}/orderbook")
    return {
        "GET /markets/active": ("active", [page]),
        "GET /markets/{slug}/orderbook": ("orderbook", [book]),
    }


async def limitless_feed(rest_url: str, ws_url: str) -> Samples:
    """The first ``orderbookUpdate`` of the Socket.IO feed for a listed CLOB market."""
    async with http_client() as http:
        _, slug = await limitless_listing(http, rest_url)
        async with http.ws_connect(engineio_url(ws_url), autoping=True) as ws:
            deadline = time.monotonic() + FRAME_WAIT_S
            while (left := deadline - time.monotonic()) > 0:
                msg = await ws.receive(timeout=left)
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                packet = sio.parse(msg.data.encode())
                if packet is None:
                    continue
                if packet.eio == "0":
                    await ws.send_str(sio.connect_frame(NAMESPACE))
                elif packet.eio == "2":
                    await ws.send_str("3")
                elif packet.sio == "0":
                    subscribe = {"marketSlugs": [slug]}
                    await ws.send_str(sio.event_frame(NAMESPACE, EMIT_SUBSCRIBE, subscribe))
                elif packet.sio == "4":
                    raise NoSample(f"the feed refused the namespace: {packet.data!r}")
                elif packet.sio == "2":
                    name, *args = json.loads(packet.data)
                    if name == EV_ORDERBOOK and args:
                        return {"Socket.IO orderbookUpdate": ("orderbookUpdate", [args[0]])}
    raise NoSample(f"no {EV_ORDERBOOK} for {slug} within {FRAME_WAIT_S:.0f} s")


@pytest.mark.live
@pytest.mark.asyncio
async def test_limitless_rest_matches_the_venue() -> None:
    rest_url = LimitlessVenueConfig().rest_url
    await require_internet("limitless", rest_url)
    venue = await sample_or_skip(limitless_rest(rest_url), "venue")
    async with FakeLimitless(markets=12, rate=50, seed=64) as fake:
        samples = await sample_or_skip(limitless_rest(fake.urls["rest_url"]), "fake")
    fail_on_drift(venue, samples)


@pytest.mark.live
@pytest.mark.asyncio
async def test_limitless_feed_matches_the_venue() -> None:
    config = LimitlessVenueConfig()
    await require_internet("limitless", config.rest_url)
    venue = await sample_or_skip(limitless_feed(config.rest_url, config.ws_url), "venue")
    async with FakeLimitless(markets=12, rate=50, seed=65) as fake:
        urls = fake.urls
        samples = await sample_or_skip(limitless_feed(urls["rest_url"], urls["ws_url"]), "fake")
    fail_on_drift(venue, samples)


# -- the samplers themselves, on loopback (default run) --------------------------------------------


@pytest.mark.asyncio
async def test_samplers_read_every_fake_and_a_fake_matches_itself() -> None:
    async with (
        FakePolymarket(markets=6, rate=50, seed=66) as pm,
        FakeKalshi(markets=6, rate=50, seed=66) as kalshi,
        FakeLimitless(markets=6, rate=50, seed=66) as limitless,
    ):
        lim = limitless.urls
        samples = [
            await pm_rest(pm.urls),
            await pm_feed(pm.urls),
            await kalshi_rest(kalshi.urls["rest_url"]),
            await limitless_rest(lim["rest_url"]),
            await limitless_feed(lim["rest_url"], lim["ws_url"]),
        ]
    names = [what for sample in samples for what in sample]
    assert len(names) == 9
    for sample in samples:
        for what, (root, docs) in sample.items():
            assert docs, what
            assert compare(what, docs, docs, root) == ""
    book = samples[1]["market channel book"][1][0]
    assert book["event_type"] == "book"
    assert "bids" in samples[4]["Socket.IO orderbookUpdate"][1][0]["orderbook"]
