"""The fake Limitless's HTTP side: active markets, market objects, order books, debug views.

The site navigation (``/navigation``, ``/market-pages``, ``/property-keys``) is in ``pages``.

``/markets/active`` answers pages of at most 25 (``limit`` above 25 is a 400), 1-based,
with ``totalMarketsCount``; past the end ``data`` is empty and the count 0. Books come best
first with raw 1e6 sizes. Python-urllib's default User-Agent gets a 403, as on the venue.
Fault knobs (slow answers, 429 with or without ``Retry-After``, 5xx) apply to every venue
route, never to debug or the Socket.IO feed; good answers carry ``x-ratelimit-remaining``.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import msgspec
from aiohttp import web

from pmtape.core.events import Level
from pmtape.core.fixed import format_e6
from pmtape.venues.limitless.constants import EIO_PATH, PAGE_MAX
from pmtape.venues.limitless.fake.faults import LimitlessFakeFaults
from pmtape.venues.limitless.fake.pages import FakeLimitlessPages
from pmtape.venues.limitless.messages import Market, Orderbook

_encode = msgspec.json.Encoder().encode
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_RATE_REMAINING = "x-ratelimit-remaining"
_NOT_VENUE = ("/debug", EIO_PATH)
"""Paths the fault middleware leaves alone: the debug views and the Socket.IO feed."""


def _route_stat(path: str) -> str:
    """The counter name of a route: ``/markets``, ``/markets/*/orderbook``, ``/navigation``."""
    if "/orderbook" in path:
        return "/markets/*/orderbook"
    return "/" + path.split("/", 2)[1]


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=_encode(value), status=status, content_type="application/json", headers=headers
    )


class LimitlessVenue(Protocol):
    """What the HTTP side reads of the fake venue (``server.FakeLimitless``)."""

    @property
    def faults(self) -> LimitlessFakeFaults: ...

    @property
    def stats(self) -> Counter[str]: ...

    @property
    def rng(self) -> random.Random: ...

    def true_book(self, slug: str) -> tuple[list[Level], list[Level]]: ...

    def listing(self) -> list[Market]: ...

    def market_detail(self, slug: str) -> Market | None: ...

    def book(self, slug: str, *, rest: bool) -> Orderbook | None: ...

    def snapshot_stats(self) -> dict[str, Any]: ...


class FakeLimitlessRest:
    """HTTP handlers of the fake, reading the fake's markets and books."""

    def __init__(self, fake: LimitlessVenue) -> None:
        self.fake = fake

    def routes(self, app: web.Application) -> None:
        """Register every HTTP route (and the fault middleware) on ``app``."""
        app.middlewares.append(self._faults)
        r = app.router
        r.add_get("/markets/active", self.markets_active)
        r.add_get("/markets/{slug}/orderbook", self.orderbook)
        r.add_get("/markets/{slug}", self.market)
        FakeLimitlessPages(self.fake.listing).routes(app)
        r.add_get("/debug/book", self.debug_book)
        r.add_get("/debug/stats", self.debug_stats)

    @web.middleware
    async def _faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(_NOT_VENUE):
            return await handler(request)
        fake = self.fake
        faults = fake.faults
        fake.stats["http_requests"] += 1
        fake.stats["http " + _route_stat(request.path)] += 1
        if request.headers.get("User-Agent", "").startswith("Python-urllib"):
            fake.stats["http_403_user_agent"] += 1
            return _json({"message": "Forbidden"}, 403)
        if faults.slow_ms > 0:
            await asyncio.sleep(faults.slow_ms / 1000)
        if faults.http_error_next > 0:
            faults.http_error_next -= 1
            status = faults.http_error_statuses[0]
        elif faults.http_error_prob and fake.rng.random() < faults.http_error_prob:
            status = fake.rng.choice(faults.http_error_statuses)
        else:
            status = 0
        if status:
            fake.stats[f"http_error_{status}"] += 1
            headers = {_RATE_REMAINING: "0"}
            if status == 429 and faults.retry_after_s is not None:
                headers["Retry-After"] = format_e6(round(faults.retry_after_s * 1_000_000))
            text = "Too Many Requests" if status == 429 else "Service Unavailable"
            return _json({"message": text}, status, headers)
        resp = await handler(request)
        resp.headers[_RATE_REMAINING] = "100"
        return resp

    async def markets_active(self, request: web.Request) -> web.Response:
        """``GET /markets/active``: 1-based pages of at most 25."""
        q = request.query
        try:
            page = int(q.get("page", "1"))
            limit = int(q.get("limit", str(PAGE_MAX)))
        except ValueError:
            return _json({"message": "page and limit must be integers"}, 400)
        if not 1 <= limit <= PAGE_MAX or page < 1:
            return _json({"message": f"limit must be between 1 and {PAGE_MAX}"}, 400)
        listing = self.fake.listing()
        trade_type = q.get("tradeType")
        if trade_type in ("clob", "amm"):
            listing = [m for m in listing if m.tradeType == trade_type or m.marketType == "group"]
        rows = listing[(page - 1) * limit : page * limit]
        return _json({"data": rows, "totalMarketsCount": len(listing) if rows else 0})

    async def market(self, request: web.Request) -> web.Response:
        """``GET /markets/{slug}``: one market object (children of groups included)."""
        obj = self.fake.market_detail(request.match_info["slug"])
        if obj is None:
            return _json({"message": "Market not found"}, 404)
        return _json(obj)

    async def orderbook(self, request: web.Request) -> web.Response:
        """``GET /markets/{slug}/orderbook``: best first, raw sizes, names only its token."""
        book = self.fake.book(request.match_info["slug"], rest=True)
        if book is None:
            return _json({"message": "Market not found"}, 404)
        return _json(book)

    async def debug_book(self, request: web.Request) -> web.Response:
        """The true book of a slug, best first, in e6 integers."""
        slug = request.query.get("slug", "")
        try:
            bids, asks = self.fake.true_book(slug)
        except KeyError:
            return _json({"error": "not an active market"}, 404)
        return _json({"slug": slug, "bids": bids, "asks": asks})

    async def debug_stats(self, request: web.Request) -> web.Response:
        """The fake's counters."""
        return _json(self.fake.snapshot_stats())
