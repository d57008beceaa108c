"""The fake Kalshi's HTTP side: markets, events, books, trades, exchange status, debug views.

Also the exchange schedule and announcements, series fee changes and event metadata.

Paths sit under ``/trade-api/v2`` like the venue's; market data needs no auth. Listings
page with an opaque cursor and end with ``cursor: ""``; ``status`` takes the filter
vocabulary (``open``, ``closed``, ``settled``, ...; ``active`` is refused with 400) and
answers with the response vocabulary (``active``, ``finalized``, ...). Decoys a collector
must filter out are mixed in: a just-closed market still listed as open (as the venue does
for ~30 s), an unopened one and a settled one. Books are the generator's true books as
bids-only ladders. Fault knobs (slow answers, 429 without ``Retry-After``, 5xx) apply to
every venue route and to the WebSocket upgrade, never to debug.
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import msgspec
from aiohttp import web

from pmtape.core.clock import now_ms
from pmtape.core.events import Level
from pmtape.venues.kalshi.constants import EVENTS_PAGE_MAX, MARKETS_PAGE_MAX, ORDERBOOKS_MAX
from pmtape.venues.kalshi.fake import catalog
from pmtape.venues.kalshi.fake.faults import KalshiFakeFaults
from pmtape.venues.kalshi.messages import Event, Market, OrderbookFp, RestTrade, Series

_encode = msgspec.json.Encoder().encode
PREFIX = "/trade-api/v2"
_FILTERS = {
    "unopened": "initialized",
    "open": "active",
    "paused": "inactive",
    "closed": "closed",
    "settled": "finalized",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encode(value), status=status, content_type="application/json")


def _not_found(what: str) -> web.Response:
    return _json({"code": "not_found", "message": f"{what} not found", "service": "exchange"}, 404)


def _bad(message: str) -> web.Response:
    return _json({"code": "bad_request", "message": message, "service": "exchange"}, 400)


class KalshiVenue(Protocol):
    """What the HTTP side reads of the fake venue (``server.FakeKalshi``)."""

    @property
    def faults(self) -> KalshiFakeFaults: ...

    @property
    def stats(self) -> Counter[str]: ...

    @property
    def rng(self) -> random.Random: ...

    def true_book(self, ticker: str) -> tuple[list[Level], list[Level]]: ...

    def market_objects(self) -> list[Market]: ...

    def event_objects(self, status: str | None, nested: bool) -> list[Event]: ...

    def series_objects(self) -> list[Series]: ...

    def series_of(self, event_ticker: str) -> str: ...

    def rest_book(self, ticker: str, depth: int = 0) -> OrderbookFp | None: ...

    def recent_trades(self, ticker: str | None, min_ts_s: int) -> list[RestTrade]: ...

    def snapshot_stats(self) -> dict[str, Any]: ...


class FakeKalshiRest:
    """HTTP handlers of the fake, reading the fake's markets and ladders."""

    def __init__(self, fake: KalshiVenue) -> None:
        self.fake = fake

    def routes(self, app: web.Application) -> None:
        """Register every HTTP route (and the fault middleware) on ``app``."""
        app.middlewares.append(self._faults)
        r = app.router
        r.add_get(PREFIX + "/markets", self.get_markets)
        r.add_get(PREFIX + "/markets/orderbooks", self.get_orderbooks)
        r.add_get(PREFIX + "/markets/trades", self.get_trades)
        r.add_get(PREFIX + "/markets/{ticker}/orderbook", self.get_orderbook)
        r.add_get(PREFIX + "/markets/{ticker}", self.get_market)
        r.add_get(PREFIX + "/events", self.get_events)
        r.add_get(PREFIX + "/events/{event_ticker}", self.get_event)
        r.add_get(PREFIX + "/events/{event_ticker}/metadata", self.get_event_metadata)
        r.add_get(PREFIX + "/series", self.get_series_list)
        r.add_get(PREFIX + "/series/fee_changes", self.get_fee_changes)
        r.add_get(PREFIX + "/series/{series_ticker}", self.get_series)
        r.add_get(PREFIX + "/exchange/status", self.exchange_status)
        r.add_get(PREFIX + "/exchange/schedule", self.exchange_schedule)
        r.add_get(PREFIX + "/exchange/announcements", self.exchange_announcements)
        r.add_get("/debug/book", self.debug_book)
        r.add_get("/debug/stats", self.debug_stats)

    @web.middleware
    async def _faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/trade-api/"):
            return await handler(request)
        fake = self.fake
        faults = fake.faults
        fake.stats["http_requests"] += 1
        fake.stats[f"http {request.path.removeprefix(PREFIX)}"] += 1
        if faults.slow_ms > 0:
            await asyncio.sleep(faults.slow_ms / 1000)
        if faults.http_error_prob and fake.rng.random() < faults.http_error_prob:
            status = fake.rng.choice(faults.http_error_statuses)
            fake.stats[f"http_error_{status}"] += 1
            if status == 429:
                return _json({"error": "too many requests"}, 429)  # no Retry-After (§2.3)
            body = {"code": "service_unavailable", "message": "try again", "service": "exchange"}
            return _json(body, status)
        return await handler(request)

    # -- listings ------------------------------------------------------------------------------

    async def get_markets(self, request: web.Request) -> web.Response:
        """``GET /markets``: filtered by status, event, series or tickers; cursor pages."""
        q = request.query
        status = q.get("status")
        if status is not None and status not in _FILTERS:
            return _bad(f"invalid status {status!r}")
        markets = self.fake.market_objects()
        if status is not None:
            markets = [m for m in markets if m.status == _FILTERS[status]]
        for field, attr in (("event_ticker", "event_ticker"), ("series_ticker", "")):
            if q.get(field):
                markets = [m for m in markets if self._matches(m, attr, q[field])]
        if q.get("tickers"):
            wanted = set(q["tickers"].split(","))
            markets = [m for m in markets if m.ticker in wanted]
        return _page(markets, q, MARKETS_PAGE_MAX, "markets")

    def _matches(self, m: Market, attr: str, value: str) -> bool:
        if attr:
            return bool(getattr(m, attr) == value)
        return self.fake.series_of(m.event_ticker) == value

    async def get_events(self, request: web.Request) -> web.Response:
        """``GET /events``: one event per market; ``with_nested_markets`` embeds them."""
        q = request.query
        status = q.get("status")
        if status is not None and status not in ("open", "closed", "settled"):
            return _bad(f"invalid status {status!r}")
        nested = q.get("with_nested_markets") == "true"
        events = self.fake.event_objects(status, nested)
        if q.get("series_ticker"):
            events = [e for e in events if e.series_ticker == q["series_ticker"]]
        return _page(events, q, EVENTS_PAGE_MAX, "events")

    async def get_event(self, request: web.Request) -> web.Response:
        """``GET /events/{event_ticker}``: the event and (deprecated, top-level) its markets."""
        nested = request.query.get("with_nested_markets") == "true"
        ticker = request.match_info["event_ticker"]
        for event in self.fake.event_objects(None, nested=True):
            if event.event_ticker == ticker:
                markets = event.markets or []
                event.markets = markets if nested else None
                return _json({"event": event, "markets": markets})
        return _not_found("event")

    async def get_series_list(self, request: web.Request) -> web.Response:
        """``GET /series``: every series, optionally of one ``category``."""
        series = self.fake.series_objects()
        if request.query.get("category"):
            series = [s for s in series if s.category == request.query["category"]]
        return _json({"series": series})

    async def get_series(self, request: web.Request) -> web.Response:
        """``GET /series/{series_ticker}``."""
        for series in self.fake.series_objects():
            if series.ticker == request.match_info["series_ticker"]:
                return _json({"series": series})
        return _not_found("series")

    # -- books and trades ----------------------------------------------------------------------

    async def get_orderbooks(self, request: web.Request) -> web.Response:
        """``GET /markets/orderbooks?tickers=A,B``: unknown tickers are left out."""
        tickers = [t for t in request.query.get("tickers", "").split(",") if t]
        if not tickers or len(tickers) > ORDERBOOKS_MAX:
            return _bad(f"tickers: 1 to {ORDERBOOKS_MAX} required")
        depth = _int(request.query.get("depth"), 0)
        items = []
        for ticker in tickers:
            book = self.fake.rest_book(ticker, depth)
            if book is not None:
                items.append({"ticker": ticker, "orderbook_fp": book})
        if not items:
            return _not_found("markets")
        return _json({"orderbooks": items})

    async def get_orderbook(self, request: web.Request) -> web.Response:
        """``GET /markets/{ticker}/orderbook``: the body does not name the ticker."""
        book = self.fake.rest_book(
            request.match_info["ticker"], _int(request.query.get("depth"), 0)
        )
        if book is None:
            return _not_found("market")
        return _json({"orderbook_fp": book})

    async def get_market(self, request: web.Request) -> web.Response:
        """``GET /markets/{ticker}``."""
        ticker = request.match_info["ticker"]
        for m in self.fake.market_objects():
            if m.ticker == ticker:
                return _json({"market": m})
        return _not_found("market")

    async def get_trades(self, request: web.Request) -> web.Response:
        """``GET /markets/trades``: newest first, ``min_ts`` in seconds, cursor pages."""
        q = request.query
        rows = self.fake.recent_trades(q.get("ticker"), _int(q.get("min_ts"), 0))
        return _page(rows, q, MARKETS_PAGE_MAX, "trades")

    async def exchange_status(self, request: web.Request) -> web.Response:
        """``GET /exchange/status``."""
        body = {"exchange_active": True, "trading_active": True}
        return _json({**body, "exchange_estimated_resume_time": None})

    async def exchange_schedule(self, request: web.Request) -> web.Response:
        """``GET /exchange/schedule``: trading hours and the next maintenance window."""
        return _json(catalog.schedule(now_ms()))

    async def exchange_announcements(self, request: web.Request) -> web.Response:
        """``GET /exchange/announcements``."""
        return _json(catalog.announcements(now_ms()))

    async def get_fee_changes(self, request: web.Request) -> web.Response:
        """``GET /series/fee_changes[?series_ticker=&show_historical=true]``."""
        q = request.query
        series = self.fake.series_objects()
        if "series_ticker" in q:
            series = [s for s in series if s.ticker == q["series_ticker"]]
        historical = q.get("show_historical", "false") == "true"
        return _json(catalog.fee_changes(series, now_ms(), historical=historical))

    async def get_event_metadata(self, request: web.Request) -> web.Response:
        """``GET /events/{event_ticker}/metadata``: images and colours of its markets."""
        ticker = request.match_info["event_ticker"]
        event = next(
            (e for e in self.fake.event_objects(None, True) if e.event_ticker == ticker), None
        )
        if event is None:
            return _not_found("event")
        series = {s.ticker: s for s in self.fake.series_objects()}.get(event.series_ticker)
        return _json(catalog.event_metadata(event, series))

    # -- debug ---------------------------------------------------------------------------------

    async def debug_book(self, request: web.Request) -> web.Response:
        """The true YES book of a ticker, best first, in e6 integers."""
        ticker = request.query.get("ticker", "")
        try:
            bids, asks = self.fake.true_book(ticker)
        except KeyError:
            return _json({"error": "not an active ticker"}, 404)
        return _json({"ticker": ticker, "bids": bids, "asks": asks})

    async def debug_stats(self, request: web.Request) -> web.Response:
        """The fake's counters."""
        return _json(self.fake.snapshot_stats())


def _page(items: list[Any], q: Mapping[str, str], max_limit: int, field: str) -> web.Response:
    limit = _int(q.get("limit"), 100)
    if not 1 <= limit <= max_limit:
        return _bad(f"limit must be between 1 and {max_limit}")
    try:
        start = int(base64.b64decode(q["cursor"]).decode()) if q.get("cursor") else 0
    except ValueError:
        return _bad("invalid cursor")
    page = items[start : start + limit]
    end = start + len(page)
    cursor = base64.b64encode(str(end).encode()).decode() if end < len(items) else ""
    return _json({field: page, "cursor": cursor})


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default
