"""The fake's HTTP side: Gamma listings, CLOB books and markets, Data API trades, debug views.

Books are the generator's true books at the moment of the request, in the live ordering
(best level last), with ``last_trade_price`` ``""`` until the token trades. Errors have
the venue's shapes (``400 Invalid token id``, ``404 No orderbook exists ...``). Fault knobs
(slow answers, 429/5xx with ``Retry-After``) apply to every venue route, not to debug.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from hashlib import blake2b
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from pmtape.core.fixed import format_e6
from pmtape.venues.polymarket.constants import BOOKS_BATCH_MAX, CLOB_CURSOR_END
from pmtape.venues.polymarket.fake_gamma import (
    DEPRECATION_HEADERS,
    GammaError,
    keyset_page,
    legacy_page,
)
from pmtape.venues.polymarket.fake_wire import wire_levels
from pmtape.venues.polymarket.messages import RestBook

if TYPE_CHECKING:
    from pmtape.venues.polymarket.fake import FakePolymarket

_encode = msgspec.json.Encoder().encode
_VENUE_PREFIXES = ("/gamma/", "/clob/", "/data/")
_CLOB_PAGE = 500
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=_encode(value), status=status, content_type="application/json", headers=headers
    )


class FakeRest:
    """HTTP handlers of the fake, reading the fake's generator and catalog."""

    def __init__(self, fake: FakePolymarket) -> None:
        self.fake = fake

    def routes(self, app: web.Application) -> None:
        """Register every HTTP route (and the fault middleware) on ``app``."""
        app.middlewares.append(self._faults)
        app.router.add_get("/gamma/markets/keyset", self.gamma_keyset)
        app.router.add_get("/gamma/markets", self.gamma_legacy)
        app.router.add_get("/clob/book", self.get_book)
        app.router.add_post("/clob/books", self.post_books)
        app.router.add_get("/clob/markets", self.clob_markets)
        app.router.add_get("/data/trades", self.trades_v1)
        app.router.add_get("/data/v2/trades", self.trades_v2)
        app.router.add_get("/debug/book", self.debug_book)
        app.router.add_get("/debug/stats", self.debug_stats)

    @web.middleware
    async def _faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(_VENUE_PREFIXES):
            return await handler(request)
        fake = self.fake
        faults = fake.faults
        fake.stats["http_requests"] += 1
        fake.stats[f"http {request.method} {request.path}"] += 1
        if faults.slow_ms > 0:
            await asyncio.sleep(faults.slow_ms / 1000)
        if faults.http_error_prob and fake.rng.random() < faults.http_error_prob:
            status = fake.rng.choice(faults.http_error_statuses)
            fake.stats[f"http_error_{status}"] += 1
            headers = {}
            if faults.retry_after_s is not None:
                headers["Retry-After"] = format_e6(round(faults.retry_after_s * 1_000_000))
            body = {"error": "Too Many Requests" if status == 429 else "internal error"}
            return _json(body, status, headers)
        return await handler(request)

    # -- Gamma ---------------------------------------------------------------------------------

    async def gamma_keyset(self, request: web.Request) -> web.Response:
        """``GET /markets/keyset``: cursor pages, ``next_cursor`` only on full pages."""
        if not self.fake.faults.keyset:
            return _json({"error": "not found"}, 404)
        try:
            return _json(keyset_page(self.fake.gamma_listing(request.query), request.query))
        except GammaError as exc:
            return _json(exc.body, exc.status)

    async def gamma_legacy(self, request: web.Request) -> web.Response:
        """``GET /markets``: the deprecated offset form, a bare array, sunset headers."""
        max_offset = self.fake.faults.legacy_max_offset
        try:
            page = legacy_page(self.fake.gamma_listing(request.query), request.query, max_offset)
        except GammaError as exc:
            return _json(exc.body, exc.status, DEPRECATION_HEADERS)
        return _json(page, 200, DEPRECATION_HEADERS)

    # -- CLOB ----------------------------------------------------------------------------------

    async def get_book(self, request: web.Request) -> web.Response:
        """``GET /book?token_id=``."""
        token = request.query.get("token_id", "")
        if not token.isdigit():
            return _json({"error": "Invalid token id"}, 400)
        book = self.rest_book(token)
        if book is None:
            return _json({"error": "No orderbook exists for the requested token id"}, 404)
        return _json(book)

    async def post_books(self, request: web.Request) -> web.Response:
        """``POST /books`` with a flat array of ``{"token_id": ...}``."""
        try:
            items: Any = msgspec.json.decode(await request.read())
        except msgspec.DecodeError:
            return _json({"error": "Invalid payload"}, 400)
        if not isinstance(items, list):
            return _json({"error": "Invalid payload"}, 400)
        if len(items) > BOOKS_BATCH_MAX:
            return _json({"error": f"at most {BOOKS_BATCH_MAX} token ids"}, 400)
        books = []
        for item in items:
            # The legacy [{"params": [...]}] wrapper has no token_id: silently nothing.
            token = item.get("token_id") if isinstance(item, dict) else None
            book = self.rest_book(token) if isinstance(token, str) else None
            if book is not None:
                books.append(book)
        return _json(books)

    def rest_book(self, token: str) -> RestBook | None:
        """Return a token's true book as ``/book`` serves it, or None if it has none."""
        fake = self.fake
        try:
            bids, asks = fake.true_book(token)
        except KeyError:
            return None
        market = fake.generator.market_of(token)
        if market is None:
            return None
        with_hash = fake.rng.random() >= fake.faults.missing_hash_prob
        digest = blake2b(f"{token}:{fake.generator.now_ms}".encode(), digest_size=20).hexdigest()
        return RestBook(
            market=fake.ids.condition_id(market.market_id),
            asset_id=token,
            timestamp=str(fake.generator.now_ms),
            hash=digest if with_hash else None,
            bids=wire_levels(bids),
            asks=wire_levels(asks),
            min_order_size="5",
            tick_size=format_e6(market.tick_e6),
            neg_risk=False,
            last_trade_price=fake.encoder.last_trade.get(token, ""),
        )

    async def clob_markets(self, request: web.Request) -> web.Response:
        """``GET /markets`` (CLOB): base64 offset cursors ending with ``"LTE="``."""
        cursor = request.query.get("next_cursor") or "MA=="
        if cursor == CLOB_CURSOR_END:
            return _json(
                {"limit": _CLOB_PAGE, "count": 0, "next_cursor": CLOB_CURSOR_END, "data": []}
            )
        try:
            start = int(base64.b64decode(cursor).decode())
        except ValueError:
            return _json({"error": "invalid cursor"}, 400)
        markets = self.fake.generator.active_markets
        page = markets[start : start + _CLOB_PAGE]
        end = start + len(page)
        nxt = (
            CLOB_CURSOR_END if end >= len(markets) else base64.b64encode(str(end).encode()).decode()
        )
        data = [self.fake.clob_market(m) for m in page]
        return _json({"limit": _CLOB_PAGE, "count": len(data), "next_cursor": nxt, "data": data})

    # -- Data API ------------------------------------------------------------------------------

    async def trades_v1(self, request: web.Request) -> web.Response:
        """``GET /trades`` (v1): a bare array, newest first, camelCase."""
        rows = self.fake.recent_trades(request.query.get("market"))
        offset = int(request.query.get("offset", "0"))
        limit = int(request.query.get("limit", "100"))
        return _json([_trade_v1(r) for r in rows[offset : offset + limit]])

    async def trades_v2(self, request: web.Request) -> web.Response:
        """``GET /v2/trades``: the ``{data, pagination}`` envelope with an opaque cursor."""
        if "offset" in request.query:
            return _json({"error": "offset is not supported", "code": "bad_request"}, 400)
        rows = self.fake.recent_trades(request.query.get("condition"))
        start = int(request.query.get("cursor") or 0)
        limit = min(int(request.query.get("limit", "100")), 1000)
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        pagination = {
            "limit": limit,
            "offset": start,
            "has_more": more,
            "next_cursor": str(start + limit) if more else None,
        }
        return _json({"data": page, "pagination": pagination})

    # -- debug ---------------------------------------------------------------------------------

    async def debug_book(self, request: web.Request) -> web.Response:
        """The true book of a token, best first, in e6 integers."""
        token = request.query.get("token_id", "")
        try:
            bids, asks = self.fake.true_book(token)
        except KeyError:
            return _json({"error": "not an active token"}, 404)
        return _json({"asset_id": token, "bids": bids, "asks": asks})

    async def debug_stats(self, request: web.Request) -> web.Response:
        """The fake's counters."""
        return _json(self.fake.snapshot_stats())


def _trade_v1(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "proxyWallet": row["proxy_wallet"],
        "side": row["side"],
        "asset": row["token_id"],
        "conditionId": row["condition_id"],
        "size": row["size"],
        "price": row["price"],
        "timestamp": row["timestamp"],
        "title": row["title"],
        "slug": row["slug"],
        "outcome": row["outcome"],
        "outcomeIndex": row["outcome_index"],
        "transactionHash": row["transaction_hash"],
    }
