"""The fake's HTTP side: Gamma listings, CLOB books and markets, debug views (Data API elsewhere).

Books are the generator's true books at the moment of the request, in the live ordering
(best level last), always with all ten fields (``last_trade_price`` ``""`` until the token
trades; ``hash`` the real one unless the ``bad_hash_prob`` fault serves a wrong one; the
missing-``hash`` fault is the market channel's only). Errors have
the venue's shapes (``400 Invalid token id``, ``404 No orderbook exists ...``). Fault knobs
(slow answers, 429/5xx with ``Retry-After``) apply to every venue route, not to debug.

Gamma lists every active sim market with JSON-encoded ``outcomes``/``clobTokenIds``/
``outcomePrices`` strings, string ``volume``/``liquidity`` with numeric twins, ISO dates,
its parent event and (with ``include_tag=true``) its tags, paged by keyset cursors or the
deprecated offsets. Decoys that a collector must filter out are mixed in: markets without
an order book, inactive ones, ones past their end date but not yet closed, and closed ones
(listed only when ``closed=true`` is asked for).
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from hashlib import blake2b
from typing import Any, Protocol

import msgspec
from aiohttp import web

from pmtape.core.fixed import format_e6
from pmtape.venues.polymarket.constants import BOOKS_BATCH_MAX, CLOB_CURSOR_END
from pmtape.venues.polymarket.fake.clob import CLOB_PAGE, ClobVenue, FakeClob
from pmtape.venues.polymarket.fake.faults import FakeFaults
from pmtape.venues.polymarket.fake.wire import (
    PmIds,
    WireEncoder,
    corrupt_hash,
    market_settings,
    wire_levels,
)
from pmtape.venues.polymarket.messages import Level as WireLevel
from pmtape.venues.polymarket.messages import book_hash
from pmtape.venues.sim.generator import SimGenerator, SimMarket

_encode = msgspec.json.Encoder().encode
_VENUE_PREFIXES = ("/gamma/", "/clob/", "/data/")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
KEYSET_MAX = 100
LEGACY_MAX_OFFSET = 10_000
DEPRECATION_HEADERS = {
    "deprecation": "true",
    "sunset": "Fri, 01 May 2026 00:00:00 GMT",
    "warning": '299 - "use /markets/keyset"',
}
_HOUR_MS = 3_600_000
TopOf = Callable[[str], tuple[str, str]]
"""token -> (best_bid, best_ask) wire strings."""


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=_encode(value), status=status, content_type="application/json", headers=headers
    )


class FullRestBook(msgspec.Struct, kw_only=True):
    """``GET /book`` body as the venue sends it: every field, always, in the venue's order."""

    market: str
    asset_id: str
    timestamp: str
    hash: str
    bids: list[WireLevel]
    asks: list[WireLevel]
    min_order_size: str
    tick_size: str
    neg_risk: bool
    last_trade_price: str


class PmVenue(ClobVenue, Protocol):
    """What the HTTP side reads of the fake venue (``server.FakePolymarket``)."""

    @property
    def faults(self) -> FakeFaults: ...

    @property
    def stats(self) -> Counter[str]: ...

    @property
    def rng(self) -> random.Random: ...

    def bad_hash(self) -> bool: ...

    @property
    def generator(self) -> SimGenerator: ...

    @property
    def ids(self) -> PmIds: ...

    @property
    def encoder(self) -> WireEncoder: ...

    def gamma_listing(self, query: Mapping[str, str]) -> list[dict[str, Any]]: ...

    def snapshot_stats(self) -> dict[str, Any]: ...


class FakeRest:
    """HTTP handlers of the fake, reading the fake's generator and catalog."""

    def __init__(self, fake: PmVenue) -> None:
        self.fake = fake

    def routes(self, app: web.Application) -> None:
        """Register every HTTP route (and the fault middleware) on ``app``."""
        app.middlewares.append(self._faults)
        app.router.add_get("/gamma/markets/keyset", self.gamma_keyset)
        app.router.add_get("/gamma/markets", self.gamma_legacy)
        app.router.add_get("/clob/book", self.get_book)
        app.router.add_post("/clob/books", self.post_books)
        app.router.add_get("/clob/rewards/markets/current", self.rewards_current)
        app.router.add_get("/clob/rewards/markets/{condition_id}", self.rewards_of_market)
        FakeClob(self.fake).routes(app, "/clob")
        app.router.add_get("/debug/book", self.debug_book)
        app.router.add_get("/debug/stats", self.debug_stats)

    def _rewarded(self) -> list[dict[str, Any]]:
        """The active markets with a liquidity-rewards programme (CLOB ``rewards.rates``)."""
        out = []
        for m in self.fake.generator.active_markets:
            obj = self.fake.clob_market(m)
            rewards = obj["rewards"]
            if rewards["rates"]:
                out.append(
                    {
                        "condition_id": obj["condition_id"],
                        "rewards_max_spread": rewards["max_spread"],
                        "rewards_min_size": rewards["min_size"],
                        "rewards_config": rewards["rates"],
                    }
                )
        return out

    async def rewards_current(self, request: web.Request) -> web.Response:
        """``GET /rewards/markets/current``: every rewarded market, one page (cursor ends)."""
        data = self._rewarded()
        body = {"limit": CLOB_PAGE, "count": len(data), "next_cursor": CLOB_CURSOR_END}
        return _json({**body, "data": data})

    async def rewards_of_market(self, request: web.Request) -> web.Response:
        """``GET /rewards/markets/{condition_id}``: its programme if any; 404 if unknown."""
        cid = request.match_info["condition_id"]
        if cid not in {self.fake.condition_id(m) for m in self.fake.generator.active_markets}:
            return _json({"error": "market not found"}, 404)
        data = [r for r in self._rewarded() if r["condition_id"] == cid]
        body = {"limit": CLOB_PAGE, "count": len(data), "next_cursor": CLOB_CURSOR_END}
        return _json({**body, "data": data})

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

    def rest_book(self, token: str) -> FullRestBook | None:
        """Return a token's true book as ``/book`` serves it, or None if it has none."""
        fake = self.fake
        try:
            bids, asks = fake.true_book(token)
        except KeyError:
            return None
        market = fake.generator.market_of(token)
        if market is None:
            return None
        min_order_size, neg_risk = fake.encoder.settings(market.market_id)
        book = FullRestBook(
            market=fake.ids.condition_id(market.market_id),
            asset_id=token,
            timestamp=str(fake.generator.now_ms),
            hash="",
            bids=wire_levels(bids),
            asks=wire_levels(asks),
            min_order_size=min_order_size,
            tick_size=format_e6(fake.tick_e6(token)),
            neg_risk=neg_risk,
            last_trade_price=fake.encoder.last_trade.get(token, ""),
        )
        digest = book_hash(
            book.market,
            book.asset_id,
            book.timestamp,
            book.bids,
            book.asks,
            book.min_order_size,
            book.tick_size,
            book.neg_risk,
            book.last_trade_price,
        )
        book.hash = corrupt_hash(digest) if fake.bad_hash() else digest
        return book

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


# -- Gamma's catalog ---------------------------------------------------------------------------


class GammaError(Exception):
    """A request Gamma answers with a 4xx JSON error."""

    def __init__(self, status: int, body: dict[str, str]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


class GammaCatalog:
    """Gamma's view of the fake's markets (active ones plus decoys)."""

    def __init__(
        self,
        ids: PmIds,
        *,
        decoys: bool = True,
        settings: Callable[[str], tuple[str, bool]] | None = None,
    ) -> None:
        self.ids = ids
        self.decoys = decoys
        self.tick_of: Callable[[str], int] | None = None
        """A token's tick now (e6), as ``orderPriceMinTickSize`` states it at fetch time."""
        # A market's min_order_size and neg_risk by sim market id (the wire's, for the hash).
        self.settings = settings or partial(market_settings, varied=False)

    def listing(
        self, markets: list[SimMarket], now_ms: int, top_of: TopOf, query: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        """Return every market object matching the query's filters, in the asked order."""
        with_tags = query.get("include_tag") == "true"
        objs: list[dict[str, Any]] = []
        for m in markets:
            objs.append(self.market_object(m, now_ms, top_of, with_tags))
            if self.decoys:
                objs.extend(self._decoys(m, now_ms, with_tags))
        objs = [o for o in objs if _passes(o, query)]
        if query.get("order") in ("volume24hr", "liquidity", "volume"):
            field = {"liquidity": "liquidityNum", "volume": "volumeNum"}.get(
                query["order"], "volume24hr"
            )
            ascending = query.get("ascending", "true") == "true"
            objs.sort(key=lambda o: (o[field] if ascending else -o[field], int(o["id"])))
        return objs

    def _tick(self, m: SimMarket, token: str, variant: str) -> int:
        if self.tick_of is None or variant:
            return m.tick_e6
        try:
            return self.tick_of(token)
        except KeyError:  # no longer trading: its market's own tick
            return m.tick_e6

    def market_object(
        self,
        m: SimMarket,
        now_ms: int,
        top_of: TopOf,
        with_tags: bool,
        *,
        variant: str = "",
    ) -> dict[str, Any]:
        """Return one Gamma market object (``variant`` names a decoy)."""
        key = m.market_id + (f"#{variant}" if variant else "")
        tokens = list(m.token_ids) if not variant else _decoy_tokens(key)
        bid, ask = top_of(tokens[0])
        min_order_size, neg_risk = self.settings(m.market_id)
        end_ms = now_ms - _HOUR_MS if variant == "expired" else m.close_ts
        volume24 = round(m.activity * 1000, 2)
        obj: dict[str, Any] = {
            "id": self.ids.gamma_id(key),
            "question": m.title,
            "conditionId": self.ids.condition_id(key),
            "slug": m.slug + (f"-{variant}" if variant else ""),
            "endDate": _iso(end_ms),
            "endDateIso": _iso(end_ms)[:10],
            "startDate": _iso(m.open_ts),
            "outcomes": json.dumps(list(m.outcomes)),
            "outcomePrices": json.dumps(_outcome_prices(bid, ask)),
            "clobTokenIds": json.dumps(tokens),
            "active": variant != "inactive",
            "closed": variant == "closed",
            "archived": False,
            "enableOrderBook": variant != "no_book",
            "acceptingOrders": not variant,
            "volume": f"{m.activity * 50_000:.6f}",
            "volumeNum": round(m.activity * 50_000, 6),
            "liquidity": f"{m.activity * 2_000:.4f}",
            "liquidityNum": round(m.activity * 2_000, 4),
            "volume24hr": volume24,
            "orderPriceMinTickSize": float(format_e6(self._tick(m, tokens[0], variant))),
            "orderMinSize": int(min_order_size),
            "bestBid": float(bid),
            "bestAsk": float(ask),
            "lastTradePrice": 0.0,
            "spread": round(float(ask) - float(bid), 6),
            "negRisk": neg_risk,
            "events": [_event(m, self.ids)],
        }
        if with_tags:
            obj["tags"] = [_tag(t) for t in m.tags]
        return obj

    def _decoys(self, m: SimMarket, now_ms: int, with_tags: bool) -> list[dict[str, Any]]:
        kinds = []
        if m.slot % 7 == 3:
            kinds.append("no_book")
        if m.slot % 7 == 5:
            kinds.append("expired")
        if m.slot % 11 == 4:
            kinds.append("inactive")
        if m.slot % 13 == 6:
            kinds.append("closed")
        return [self.market_object(m, now_ms, _no_top, with_tags, variant=k) for k in kinds]


def keyset_page(objs: list[dict[str, Any]], query: Mapping[str, str]) -> dict[str, Any]:
    """Return one keyset page; ``next_cursor`` only when the page is full."""
    if "offset" in query:
        raise GammaError(422, {"type": "validation error", "error": "offset is not allowed"})
    limit = _int(query.get("limit"), 20)
    if not 1 <= limit <= KEYSET_MAX:
        raise GammaError(422, {"type": "validation error", "error": "limit must be 1..100"})
    start = _cursor_offset(query.get("after_cursor"))
    page = objs[start : start + limit]
    out: dict[str, Any] = {"markets": page}
    if len(page) == limit:
        out["next_cursor"] = base64.urlsafe_b64encode(f"o:{start + limit}".encode()).decode()
    return out


def legacy_page(
    objs: list[dict[str, Any]], query: Mapping[str, str], max_offset: int = LEGACY_MAX_OFFSET
) -> list[dict[str, Any]]:
    """Return one legacy offset page (a bare array); 422 past the offset ceiling."""
    offset = _int(query.get("offset"), 0)
    limit = _int(query.get("limit"), 100)
    if offset > max_offset:
        raise GammaError(
            422,
            {
                "type": "validation error",
                "error": "offset too large, use /markets/keyset for deeper pagination",
            },
        )
    return objs[offset : offset + max(limit, 0)]


def _passes(obj: dict[str, Any], query: Mapping[str, str]) -> bool:
    # Gamma's server default is effectively closed=false.
    if obj["closed"] and query.get("closed", "false") != "true":
        return False
    if query.get("active") == "true" and not obj["active"]:
        return False
    if query.get("archived") == "false" and obj["archived"]:
        return False
    for param, field in (("liquidity_num_min", "liquidityNum"), ("volume_num_min", "volumeNum")):
        if param in query and obj[field] < float(query[param]):
            return False
    return True


def _cursor_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith("o:"):
            return int(text[2:])
    except ValueError:
        pass
    raise GammaError(400, {"error": "invalid cursor"})


def _int(text: str | None, default: int) -> int:
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise GammaError(
            422, {"type": "validation error", "error": f"not an int: {text}"}
        ) from None


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(m: SimMarket, ids: PmIds) -> dict[str, Any]:
    slug = m.slug  # a rolling series' event shares its window's slug, as on the venue
    return {
        "id": ids.gamma_id(f"event:{m.market_id}"),
        "ticker": slug,
        "slug": slug,
        "title": m.title,
        "active": True,
        "closed": False,
        "volume": round(m.activity * 50_000, 2),
        "liquidity": round(m.activity * 2_000, 2),
        "negRisk": False,
    }


def _tag(name: str) -> dict[str, str]:
    tid = int.from_bytes(blake2b(name.encode(), digest_size=3).digest(), "big")
    return {"id": str(tid), "label": name.replace("-", " ").title(), "slug": name}


def _decoy_tokens(key: str) -> list[str]:
    return [
        str(int.from_bytes(blake2b(f"{key}:{o}".encode(), digest_size=32).digest(), "big"))
        for o in ("yes", "no")
    ]


def _outcome_prices(bid: str, ask: str) -> list[str]:
    mid = (float(bid) + float(ask)) / 2 if bid != "0" and ask != "1" else 0.5
    return [f"{mid:.3f}", f"{1 - mid:.3f}"]


def _no_top(_token: str) -> tuple[str, str]:
    return "0", "1"
