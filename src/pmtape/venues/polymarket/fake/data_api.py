"""The fake's Data API: v2 cursor trades (``/data/v2/trades``), v1 offset trades (``/data/trades``).

Every market the sim shows has a trade history before the fake's epoch, generated from the
seed alone (``TradeHistory``), so a test knows the exact truth: ``fake.data_api.truth(cid)``.
Rows come newest first, several fills often share one second (a page edge must not drop or
repeat them), and some markets have no trades at all (an empty answer, not an error).

Quirks served (PROTOCOLS §1.5): v2 pages by an opaque cursor that pins the filter (``offset``
⇒ 400; a cursor sent with another ``condition`` ⇒ 400; ``limit`` only on the first page, at
most 1000); v1 answers a bare camelCase array and refuses offsets past ``v1_max_offset``.
Faults (``FakeFaults``): ``edge_repeat_prob`` makes ``next_cursor`` point a few rows back so
the next page repeats the edge; ``bad_page_prob`` serves a malformed, truncated or wrong-typed
page instead of the real one; ``data_trades_limit`` (count, window) answers 429 with
``Retry-After`` past that many trade requests in any sliding window, as the venue's
Cloudflare does. The random 429/5xx and slow-answer faults of every route apply too.

The same fills are the price history the CLOB's ``/prices-history`` serves (``price_fills``):
a fill older than 30 days only at a fidelity of 60 min or coarser, a market the fake treats
as resolved (one in four) only at 720 min or coarser (PROTOCOLS §1.4.4).
"""

from __future__ import annotations

import base64
import random
import time
from collections import deque
from collections.abc import Callable
from hashlib import blake2b

import msgspec
from aiohttp import web

from pmtape.venues.polymarket.fake.faults import FakeFaults
from pmtape.venues.sim.generator import SimMarket

_encode = msgspec.json.Encoder().encode
V2_LIMIT_MAX = 1000
V2_LIMIT_DEFAULT = 100
V1_LIMIT_MAX = 500
HISTORY_END_S = 1_793_404_800
"""2026-10-31T00:00:00Z: the newest historical trade is older than this (fixed, for the truth)."""
_PRICE_TICKS = 99
PRICE_RETENTION_S = 30 * 86_400
"""Points older than this come only at coarse fidelity (>= 60 min), as clients report (§1.4.4)."""
RETENTION_FIDELITY_MIN = 60
RESOLVED_FIDELITY_MIN = 720
"""A resolved market's history answers only at this fidelity or coarser (py-clob-client#216)."""


class TradeV2(msgspec.Struct, gc=False):
    """One Data API v2 trade row as the venue sends it (field order as observed)."""

    proxy_wallet: str
    side: str
    token_id: str
    condition_id: str
    size: float
    price: float
    timestamp: int
    title: str
    slug: str
    icon: str
    event_slug: str
    outcome: str
    outcome_index: int
    name: str
    pseudonym: str
    bio: str
    profile_image: str
    profile_image_optimized: str
    transaction_hash: str


class TradeV1(msgspec.Struct, gc=False, rename="camel"):
    """The same row in the v1 envelope's camelCase (``token_id`` is ``asset`` there)."""

    proxy_wallet: str
    side: str
    asset: str
    condition_id: str
    size: float
    price: float
    timestamp: int
    title: str
    slug: str
    event_slug: str
    outcome: str
    outcome_index: int
    name: str
    pseudonym: str
    transaction_hash: str


class TradeHistory:
    """Each market's past trades, newest first, a pure function of (seed, market)."""

    def __init__(self, seed: int, trades_per_market: int, days: int) -> None:
        self.seed = seed
        self.trades_per_market = trades_per_market
        self.days = days
        self._cache: dict[str, list[TradeV2]] = {}

    def trades(self, market: SimMarket, condition_id: str) -> list[TradeV2]:
        """Return a market's history, newest first (built once, then kept)."""
        rows = self._cache.get(condition_id)
        if rows is None:
            rows = self._cache[condition_id] = self._generate(market, condition_id)
        return rows

    def _generate(self, m: SimMarket, cid: str) -> list[TradeV2]:
        rng = random.Random(f"{self.seed}:history:{m.market_id}")
        mean = self.trades_per_market
        count = 0 if mean == 0 or rng.random() < 0.1 else rng.randint(1, 2 * mean)
        span_s = self.days * 86_400
        ts = HISTORY_END_S - rng.randrange(1, 3_600)
        step_s = max(span_s // max(count, 1), 1)
        tick = 50
        rows: list[TradeV2] = []
        for _ in range(count):
            if rng.random() > 0.25:  # else: another fill in the same second
                ts -= rng.randint(1, 2 * step_s)
            tick = min(max(tick + rng.randint(-2, 2), 1), _PRICE_TICKS)
            index = rng.randrange(2)
            price = tick if index == 0 else 100 - tick
            rows.append(
                TradeV2(
                    proxy_wallet="0x" + format(rng.getrandbits(160), "040x"),
                    side=rng.choice(("BUY", "SELL")),
                    token_id=m.token_ids[index],
                    condition_id=cid,
                    size=rng.randint(1, 500_000) / 100,
                    price=price / 100,
                    timestamp=ts,
                    title=m.title,
                    slug=m.slug,
                    icon="",
                    event_slug=m.slug,
                    outcome=m.outcomes[index],
                    outcome_index=index,
                    name="",
                    pseudonym="",
                    bio="",
                    profile_image="",
                    profile_image_optimized="",
                    transaction_hash="0x" + format(rng.getrandbits(256), "064x"),
                )
            )
        return rows


def _v1(row: TradeV2) -> TradeV1:
    return TradeV1(
        proxy_wallet=row.proxy_wallet,
        side=row.side,
        asset=row.token_id,
        condition_id=row.condition_id,
        size=row.size,
        price=row.price,
        timestamp=row.timestamp,
        title=row.title,
        slug=row.slug,
        event_slug=row.event_slug,
        outcome=row.outcome,
        outcome_index=row.outcome_index,
        name=row.name,
        pseudonym=row.pseudonym,
        transaction_hash=row.transaction_hash,
    )


def _finest(fine: int, ts: int, now_s: int) -> int:
    return max(fine, RETENTION_FIDELITY_MIN) if ts < now_s - PRICE_RETENTION_S else fine


def _error(status: int, message: str, code: str, parameter: str | None = None) -> web.Response:
    body: dict[str, object] = {
        "error": message,
        "code": code,
        "retryable": status >= 500 or status == 429,
        "trace_id": "fake",
    }
    if parameter is not None:
        body["parameter"] = parameter
    return web.Response(
        body=_encode(body), status=status, content_type="application/json",
        headers={"x-trace-id": "fake"},
    )  # fmt: skip


def _ok(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


def _cursor(filter_key: str, position: int, limit: int) -> str:
    return base64.urlsafe_b64encode(f"v2t:{filter_key}:{position}:{limit}".encode()).decode()


def _read_cursor(cursor: str, filter_key: str) -> tuple[int, int]:
    """Return (position, limit) of a cursor made for this filter; ValueError otherwise."""
    text = base64.urlsafe_b64decode(cursor.encode()).decode()
    tag, key, position, limit = text.split(":")
    if tag != "v2t" or key != filter_key:
        raise ValueError(cursor)
    return int(position), int(limit)


MarketsOf = Callable[[list[str]], list[tuple[SimMarket, str]]]
"""condition ids -> (market, condition id) for those the fake knows."""


class SlidingWindow:
    """The venue's limiter: at most ``count`` requests in any ``window_s`` (Cloudflare-like)."""

    def __init__(self, count: int, window_s: float) -> None:
        self.count = count
        self.window_s = window_s
        self._times: deque[float] = deque()

    def admit(self) -> float | None:
        """Count a request; return None if admitted, else the seconds until one would be."""
        now = time.monotonic()
        times = self._times
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) >= self.count:
            return times[0] + self.window_s - now
        times.append(now)
        return None


class DataApi:
    """Route handlers of the fake Data API, reading ``TradeHistory`` through ``markets_of``."""

    def __init__(
        self,
        history: TradeHistory,
        markets_of: MarketsOf,
        faults: FakeFaults,
        rng: random.Random,
    ) -> None:
        self.history = history
        self.markets_of = markets_of
        self.faults = faults
        self.rng = rng
        self.bad_pages = 0
        self.rate_limited = 0
        self._window: SlidingWindow | None = None

    def routes(self, app: web.Application, prefix: str = "/data") -> None:
        """Register ``/trades`` (v1) and ``/v2/trades`` under ``prefix``."""
        app.router.add_get(f"{prefix}/trades", self.trades_v1)
        app.router.add_get(f"{prefix}/v2/trades", self.trades_v2)

    def truth(self, condition_ids: list[str]) -> list[TradeV2]:
        """Return every historical trade of those markets, newest first per market."""
        return [t for m, cid in self.markets_of(condition_ids) for t in self.history.trades(m, cid)]

    def price_fills(self, token_id: str, now_s: int) -> list[tuple[int, float, int]]:
        """Return a token's historical fills oldest first as (ts, price, finest fidelity min).

        The finest fidelity that still serves a fill: ``RESOLVED_FIDELITY_MIN`` for a market
        the fake treats as resolved (one in four, by its seed), ``RETENTION_FIDELITY_MIN``
        past ``PRICE_RETENTION_S``, else 1. ``/prices-history`` answers from these.
        """
        for m, cid in self.markets_of([]):
            if token_id in m.token_ids:
                fine = RESOLVED_FIDELITY_MIN if self.resolved(cid) else 1
                return [
                    (t.timestamp, t.price, _finest(fine, t.timestamp, now_s))
                    for t in reversed(self.history.trades(m, cid))
                    if t.token_id == token_id
                ]
        return []

    def resolved(self, condition_id: str) -> bool:
        """Return whether the fake answers this market's history as a resolved market's."""
        return blake2b(f"{self.history.seed}:{condition_id}".encode()).digest()[0] % 4 == 0

    def _rows(self, conditions: list[str]) -> list[TradeV2]:
        markets = self.markets_of(conditions)
        if len(markets) == 1:  # the common case: one market's own list, not a copy
            return self.history.trades(*markets[0])
        rows = [t for m, cid in markets for t in self.history.trades(m, cid)]
        rows.sort(key=lambda r: -r.timestamp)
        return rows

    def _over_limit(self) -> web.Response | None:
        limit = self.faults.data_trades_limit
        if limit is None:
            return None
        if self._window is None or (self._window.count, self._window.window_s) != limit:
            self._window = SlidingWindow(*limit)
        wait_s = self._window.admit()
        if wait_s is None:
            return None
        self.rate_limited += 1
        response = _error(429, "rate limit exceeded", "rate_limited")
        response.headers["Retry-After"] = f"{max(wait_s, 0.001):.3f}"
        return response

    async def trades_v2(self, request: web.Request) -> web.Response:
        """``GET /v2/trades?condition=...``: ``{data, pagination}``, follow ``next_cursor``."""
        refused = self._over_limit()
        if refused is not None:
            return refused
        query = request.query
        if "offset" in query:
            return _error(400, "offset is not supported; use cursor", "bad_request", "offset")
        raw = query.get("condition") or query.get("condition_id") or query.get("conditionId")
        conditions = [c for c in (raw or "").split(",") if c]
        if len(conditions) > 20:
            return _error(400, "at most 20 condition ids", "bad_request", "condition")
        filter_key = blake2b(",".join(conditions).encode(), digest_size=6).hexdigest()
        try:
            start, limit = 0, int(query.get("limit", V2_LIMIT_DEFAULT))
            if "cursor" in query:
                start, limit = _read_cursor(query["cursor"], filter_key)
        except ValueError:
            return _error(400, "invalid cursor or limit", "bad_request", "cursor")
        if not 1 <= limit <= V2_LIMIT_MAX:
            return _error(400, f"limit must be 1..{V2_LIMIT_MAX}", "bad_request", "limit")
        rows = self._rows(conditions)
        page = rows[start : start + limit]
        end = start + len(page)
        more = end < len(rows)
        if more and self._chance(self.faults.edge_repeat_prob):
            end = max(start + 1, end - self.rng.randint(1, max(1, len(page) // 4)))
        pagination = {
            "limit": limit,
            "offset": start,
            "has_more": more,
            "next_cursor": _cursor(filter_key, end, limit) if more else None,
        }
        return _ok(self._maybe_bad(_encode({"data": page, "pagination": pagination})))

    async def trades_v1(self, request: web.Request) -> web.Response:
        """``GET /trades?market=...``: a bare array, ``offset`` capped."""
        refused = self._over_limit()
        if refused is not None:
            return refused
        query = request.query
        try:
            offset = int(query.get("offset", "0"))
            limit = int(query.get("limit", "100"))
        except ValueError:
            return web.json_response({"error": "invalid offset or limit"}, status=400)
        if offset > self.faults.v1_max_offset:
            return web.json_response(
                {"error": f"offset must be <= {self.faults.v1_max_offset}"}, status=400
            )
        limit = min(max(limit, 0), V1_LIMIT_MAX)
        conditions = [c for c in query.get("market", "").split(",") if c]
        page = self._rows(conditions)[offset : offset + limit]
        return _ok(self._maybe_bad(_encode([_v1(r) for r in page])))

    def _chance(self, prob: float) -> bool:
        return prob > 0 and self.rng.random() < prob

    def _maybe_bad(self, body: bytes) -> bytes:
        if not self._chance(self.faults.bad_page_prob):
            return body
        self.bad_pages += 1
        kind = self.rng.choice(self.faults.bad_page_kinds)
        if kind == "truncated":
            return body[: max(1, len(body) // 2)]
        if kind == "wrong_type" and b'"timestamp":' in body:
            # A numeric field sent as an object: valid JSON, wrong shape.
            return body.replace(b'"timestamp":', b'"timestamp":{"v":', 1).replace(
                b',"title"', b'},"title"', 1
            )
        return b'{"data": [{"proxy_wallet": "0x1", "side": BUY}], "pagination": nul'
