"""The fake's CLOB market-data routes besides ``/book(s)``: markets, prices, parameters, history.

Every answer is read from the generator's true books at the moment of the request, with the
shapes of PROTOCOLS §1.4 and of what the official clients parse: prices, mids and spreads are
decimal strings (``/price`` BUY is the best bid, SELL the best ask), ``/tick-size`` a number,
``/neg-risk`` a bool, batch routes take a flat ``[{"token_id": ...}]`` array. An empty side
counts as a bid of 0 or an ask of 1, as ``price_change`` reports it. Market lists page by
base64 offsets ending with ``"LTE="``. The compact ``/clob-markets/{condition_id}`` (keys
``c``, ``t``, ``mts``, ``mos``, ``nr``, ``fd``) and ``/fee-rate`` (``base_fee``, 0 here) follow
the official v2 client (``[I]``: PROTOCOLS does not list them).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec
from aiohttp import web

from pmtape.core.clock import now_ms
from pmtape.core.events import Level
from pmtape.core.fixed import e6_to_float, format_e6
from pmtape.venues.polymarket.constants import BOOKS_BATCH_MAX, CLOB_CURSOR_END
from pmtape.venues.polymarket.fake.data_api import DataApi
from pmtape.venues.polymarket.fake.wire import WireEncoder
from pmtape.venues.sim.constants import SCALE_E6
from pmtape.venues.sim.generator import SimGenerator, SimMarket

_encode = msgspec.json.Encoder().encode
CLOB_PAGE = 500
NO_BOOK = {"error": "No orderbook exists for the requested token id"}
PRICES_WINDOW_MAX_S = 14 * 86_400
"""Longest ``startTs``..``endTs`` span answered (about 15 d at the venue, §1.4.4; 14 d here)."""
_INTERVAL_S = {"1m": 60, "1h": 3_600, "6h": 21_600, "1d": 86_400, "1w": 604_800}


def json_response(
    value: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Return ``value`` as a JSON response."""
    return web.Response(
        body=_encode(value), status=status, content_type="application/json", headers=headers
    )


class ClobVenue(Protocol):
    """What the CLOB routes read of the fake venue (``server.FakePolymarket``)."""

    @property
    def generator(self) -> SimGenerator: ...

    @property
    def encoder(self) -> WireEncoder: ...

    def true_book(self, asset_id: str) -> tuple[list[Level], list[Level]]: ...

    def clob_market(self, m: SimMarket) -> dict[str, Any]: ...

    @property
    def data_api(self) -> DataApi: ...

    def condition_id(self, m: SimMarket) -> str: ...

    def tick_e6(self, token: str) -> int: ...

    def recent_trades(self, conditions: str | None) -> list[dict[str, Any]]: ...


class FakeClob:
    """CLOB handlers of the fake (besides ``/book`` and ``/books``, in ``rest``)."""

    def __init__(self, fake: ClobVenue) -> None:
        self.fake = fake

    def routes(self, app: web.Application, prefix: str = "/clob") -> None:
        """Register the routes on ``app`` under ``prefix``."""
        get, post = app.router.add_get, app.router.add_post
        get(f"{prefix}/", self.ok)
        get(f"{prefix}/ok", self.ok)
        get(f"{prefix}/time", self.server_time)
        get(f"{prefix}/version", self.version)
        get(f"{prefix}/markets", self.page(lambda m: self.fake.clob_market(m)))
        get(f"{prefix}/sampling-markets", self.page(lambda m: self.fake.clob_market(m)))
        get(f"{prefix}/simplified-markets", self.page(self.simplified))
        get(f"{prefix}/sampling-simplified-markets", self.page(self.simplified))
        get(f"{prefix}/markets/{{condition_id}}", self.market)
        get(f"{prefix}/clob-markets/{{condition_id}}", self.clob_market_info)
        get(f"{prefix}/markets-by-token/{{token_id}}", self.market_by_token)
        get(f"{prefix}/midpoint", self.token_route(lambda t: {"mid": self.mid(t)}))
        post(f"{prefix}/midpoints", self.batch(lambda t, _side: self.mid(t)))
        get(f"{prefix}/price", self.price)
        post(f"{prefix}/prices", self.prices)
        get(f"{prefix}/spread", self.token_route(lambda t: {"spread": self.spread(t)}))
        post(f"{prefix}/spreads", self.batch(lambda t, _side: self.spread(t)))
        get(f"{prefix}/last-trade-price", self.token_route(self.last_trade))
        post(f"{prefix}/last-trades-prices", self.last_trades)
        get(f"{prefix}/tick-size", self.token_route(self.tick_size))
        get(f"{prefix}/neg-risk", self.token_route(lambda t: {"neg_risk": self.settings(t)[1]}))
        get(f"{prefix}/fee-rate", self.token_route(lambda _t: {"base_fee": 0}))
        get(f"{prefix}/prices-history", self.prices_history)

    # -- the state each answer reads -------------------------------------------------------------

    def top(self, token: str) -> tuple[int, int]:
        """Return a token's (best bid, best ask) in e6 (0 / 1 for an empty side)."""
        bids, asks = self.fake.true_book(token)
        return (bids[0][0] if bids else 0, asks[0][0] if asks else SCALE_E6)

    def mid(self, token: str) -> str:
        """Return a token's midpoint as the venue writes it."""
        bid, ask = self.top(token)
        return format_e6((bid + ask) // 2)

    def spread(self, token: str) -> str:
        """Return a token's best ask minus best bid."""
        bid, ask = self.top(token)
        return format_e6(ask - bid)

    def side_price(self, token: str, side: str) -> str:
        """Return the best bid for BUY, the best ask for SELL."""
        bid, ask = self.top(token)
        return format_e6(bid if side == "BUY" else ask)

    def last_trade(self, token: str) -> dict[str, str]:
        """Return ``{"price", "side"}`` of a token's last fill (``"0.5"``/``""`` before one)."""
        enc = self.fake.encoder
        return {
            "price": enc.last_trade.get(token, "0.5"),
            "side": enc.last_trade_side.get(token, ""),
        }

    def settings(self, token: str) -> tuple[str, bool]:
        """Return an active token's market ``min_order_size`` and ``neg_risk``."""
        market = self.fake.generator.market_of(token)
        if market is None:
            raise KeyError(token)
        return self.fake.encoder.settings(market.market_id)

    def tick_size(self, token: str) -> dict[str, float]:
        """Return ``/tick-size``'s body: the token's tick now, a number."""
        return {"minimum_tick_size": e6_to_float(self.fake.tick_e6(token))}

    def simplified(self, m: SimMarket) -> dict[str, Any]:
        """Return a market as ``/simplified-markets`` lists it."""
        full = self.fake.clob_market(m)
        keys = ("condition_id", "rewards", "tokens", "active", "closed", "archived")
        return {**{k: full[k] for k in keys}, "accepting_orders": full["accepting_orders"]}

    def _active(self, token: str) -> bool:
        return self.fake.generator.market_of(token) is not None

    # -- routes ------------------------------------------------------------------------------------

    async def ok(self, request: web.Request) -> web.Response:
        """``GET /`` and ``GET /ok``: the JSON string ``"OK"``."""
        return json_response("OK")

    async def server_time(self, request: web.Request) -> web.Response:
        """``GET /time``: Unix seconds, a bare integer."""
        return json_response(now_ms() // 1000)

    async def version(self, request: web.Request) -> web.Response:
        """``GET /version``."""
        return json_response({"version": 2})

    def page(
        self, to_obj: Callable[[SimMarket], dict[str, Any]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Return a market-list handler: base64 offset cursors ending with ``"LTE="``."""

        async def handler(request: web.Request) -> web.Response:
            cursor = request.query.get("next_cursor") or "MA=="
            if cursor == CLOB_CURSOR_END:
                return json_response(
                    {"limit": CLOB_PAGE, "count": 0, "next_cursor": CLOB_CURSOR_END, "data": []}
                )
            try:
                start = int(base64.b64decode(cursor).decode())
            except ValueError:
                return json_response({"error": "invalid cursor"}, 400)
            markets = self.fake.generator.active_markets
            page = markets[start : start + CLOB_PAGE]
            end = start + len(page)
            nxt = (
                CLOB_CURSOR_END
                if end >= len(markets)
                else base64.b64encode(str(end).encode()).decode()
            )
            data = [to_obj(m) for m in page]
            body = {"limit": CLOB_PAGE, "count": len(data), "next_cursor": nxt, "data": data}
            return json_response(body)

        return handler

    def _by_condition(self, condition_id: str) -> SimMarket | None:
        for m in self.fake.generator.active_markets:
            if self.fake.condition_id(m) == condition_id:
                return m
        return None

    async def market(self, request: web.Request) -> web.Response:
        """``GET /markets/{condition_id}``: one market object."""
        m = self._by_condition(request.match_info["condition_id"])
        if m is None:
            return json_response({"error": "market not found"}, 404)
        return json_response(self.fake.clob_market(m))

    async def market_by_token(self, request: web.Request) -> web.Response:
        """``GET /markets-by-token/{token_id}``: the token's market object."""
        m = self.fake.generator.market_of(request.match_info["token_id"])
        if m is None:
            return json_response({"error": "market not found"}, 404)
        return json_response(self.fake.clob_market(m))

    async def clob_market_info(self, request: web.Request) -> web.Response:
        """``GET /clob-markets/{condition_id}``: the compact market parameters."""
        m = self._by_condition(request.match_info["condition_id"])
        if m is None:
            return json_response({"error": "market not found"}, 404)
        min_order_size, neg_risk = self.fake.encoder.settings(m.market_id)
        body = {
            "c": self.fake.condition_id(m),
            "t": [{"t": t, "o": o} for t, o in zip(m.token_ids, m.outcomes, strict=True)],
            "mts": e6_to_float(self.fake.tick_e6(m.token_ids[0])),
            "mos": int(min_order_size),
            "nr": neg_risk,
            "fd": {"r": 0, "e": 0},
        }
        return json_response(body)

    def token_route(
        self, answer: Callable[[str], Any]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Return a ``?token_id=`` handler answering ``answer(token)`` for active tokens."""

        async def handler(request: web.Request) -> web.Response:
            token = request.query.get("token_id", "")
            if not token.isdigit():
                return json_response({"error": "Invalid token id"}, 400)
            if not self._active(token):
                return json_response(NO_BOOK, 404)
            return json_response(answer(token))

        return handler

    async def price(self, request: web.Request) -> web.Response:
        """``GET /price?token_id=&side=BUY|SELL``."""
        side = request.query.get("side", "").upper()
        if side not in ("BUY", "SELL"):
            return json_response({"error": "Invalid side"}, 400)
        answer = self.token_route(lambda t: {"price": self.side_price(t, side)})
        return await answer(request)

    async def _items(self, request: web.Request) -> list[dict[str, Any]] | web.Response:
        try:
            items: Any = msgspec.json.decode(await request.read())
        except msgspec.DecodeError:
            return json_response({"error": "Invalid payload"}, 400)
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return json_response({"error": "Invalid payload"}, 400)
        if len(items) > BOOKS_BATCH_MAX:
            return json_response({"error": f"at most {BOOKS_BATCH_MAX} token ids"}, 400)
        return [i for i in items if self._active(str(i.get("token_id", "")))]

    def batch(
        self, answer: Callable[[str, str], str]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Return a batch handler: ``{token: answer(token, side)}`` for the active tokens."""

        async def handler(request: web.Request) -> web.Response:
            items = await self._items(request)
            if isinstance(items, web.Response):
                return items
            return json_response({i["token_id"]: answer(i["token_id"], "") for i in items})

        return handler

    async def prices(self, request: web.Request) -> web.Response:
        """``POST /prices``: ``{token: {side: price}}``."""
        items = await self._items(request)
        if isinstance(items, web.Response):
            return items
        out: dict[str, dict[str, str]] = {}
        for item in items:
            side = str(item.get("side", "")).upper()
            if side not in ("BUY", "SELL"):
                return json_response({"error": "Invalid side"}, 400)
            token = item["token_id"]
            out.setdefault(token, {})[side] = self.side_price(token, side)
        return json_response(out)

    async def last_trades(self, request: web.Request) -> web.Response:
        """``POST /last-trades-prices``: ``[{"token_id", "price", "side"}]``."""
        items = await self._items(request)
        if isinstance(items, web.Response):
            return items
        return json_response(
            [{"token_id": i["token_id"], **self.last_trade(i["token_id"])} for i in items]
        )

    async def prices_history(self, request: web.Request) -> web.Response:
        """``GET /prices-history``: per ``fidelity`` minutes, the last fill's price.

        Fills are the token's historical ones (``DataApi.price_fills``: a resolved market's
        only at >= 720 min, old ones only at >= 60 min; finer asks leave them out) and the
        live ones. ``startTs``/``endTs`` span at most ``PRICES_WINDOW_MAX_S`` (longer: 400).
        """
        query = request.query
        token = query.get("market", "")
        if not token.isdigit():
            return json_response({"error": "Invalid market"}, 400)
        interval = query.get("interval")
        if interval is not None and ("startTs" in query or "endTs" in query):
            return json_response({"error": "interval and startTs/endTs are exclusive"}, 400)
        try:
            fidelity = max(int(query.get("fidelity", "1")), 1)
            lo, hi = _window(query.get("startTs"), query.get("endTs"), interval)
        except ValueError:
            return json_response({"error": "invalid parameters"}, 400)
        if interval is None and hi - lo > PRICES_WINDOW_MAX_S:
            return json_response(
                {"error": "invalid filters: 'startTs' and 'endTs' interval is too long"}, 400
            )
        now_s = now_ms() // 1000
        past = [
            {"timestamp": ts, "price": price}
            for ts, price, finest in self.fake.data_api.price_fills(token, now_s)
            if finest <= fidelity
        ]
        live = [r for r in self.fake.recent_trades(None) if r["token_id"] == token]
        points = history_points([*past, *reversed(live)], lo, hi, 60 * fidelity)
        return json_response({"history": points})


def history_points(
    trades: Iterable[dict[str, Any]], lo: int, hi: int, fidelity_s: int
) -> list[dict[str, Any]]:
    """Return ``[{"t", "p"}]``: per ``fidelity_s`` bucket in [lo, hi], its last fill's price."""
    last: dict[int, float] = {}
    for row in trades:  # oldest first
        ts = row["timestamp"]
        if lo <= ts <= hi:
            last[ts - ts % fidelity_s] = row["price"]
    return [{"t": t, "p": p} for t, p in sorted(last.items())]


def _window(start: str | None, end: str | None, interval: str | None) -> tuple[int, int]:
    now_s = now_ms() // 1000
    if interval is not None:
        if interval in ("max", "all"):
            return 0, now_s
        if interval not in _INTERVAL_S:
            raise ValueError(interval)
        return now_s - _INTERVAL_S[interval], now_s
    if start is None or end is None:
        raise ValueError("startTs and endTs are required without interval")
    return int(start), int(end)


def iso_s(ms: int) -> str:
    """Return a Unix-ms time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
