"""Polymarket's history hooks: Data API trade requests and pages, parsed into typed rows.

The backfill (``pmtape.history``) asks this module what to request and how to read the
answer; it never names a field of the venue. Trades come from the Data API v2 cursor feed
(PROTOCOLS §1.5.3), one market (condition id) per feed, newest first; the same filters are
sent on every page (the cursor only carries the seek anchor). The v1 bare-array envelope
(§1.5.2) keeps its parser. Prices and sizes go from their JSON number tokens straight to e6
integers (``token_e6``), never through float.

A page that is not JSON, is cut short or carries a wrong-typed field raises
``VenueProtocolError``: the caller counts it, keeps the body and retries, and never moves
its cursor past it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import msgspec

from pmtape.core.errors import VenueProtocolError
from pmtape.core.fixed import parse_e6_plain, token_e6
from pmtape.net.http import HttpClient
from pmtape.venues.base import DECODE_ERRORS
from pmtape.venues.polymarket.constants import (
    CLOB_URL,
    DATA_URL,
    GAMMA_URL,
    LIMIT_WINDOW_S,
    LIMITS,
    VENUE,
)
from pmtape.venues.polymarket.rest import BodySink, PolymarketRest
from pmtape.venues.polymarket.settings import PolymarketVenueConfig
from pmtape.venues.settings import VenueConfig

TRADES_V2: Final = "/v2/trades"
TRADES_V1: Final = "/trades"
TRADES_V2_PAGE_MAX: Final = 1000
"""v2 ``limit`` ceiling (first page only; later pages keep the cursor's)."""
HISTORY_LIMITS: Final[dict[str, int]] = {
    "global": LIMITS["global"],
    "data": LIMITS["data"],
    "data_trades": 200,
    "gamma": LIMITS["gamma"],
    "gamma_markets": LIMITS["gamma_markets"],
    "gamma_listing": LIMITS["gamma_listing"],
    "clob": LIMITS["clob"],
    "clob_prices_history": 1000,
}
"""Documented requests per ``LIMIT_WINDOW_S`` of the buckets the backfill uses (§1.2)."""
TRADES_BUCKETS: Final = ("global", "data", "data_trades")
WINDOW_S: Final = LIMIT_WINDOW_S
PRICES_HISTORY: Final = "/prices-history"
PRICES_BUCKETS: Final = ("global", "clob", "clob_prices_history")
PRICES_WINDOW_S: Final = 14 * 86_400
"""One request's span (§1.4.4: at most ~15 days). Windows are aligned to multiples of it, a
multiple of every fidelity's bucket, so a bucket never straddles two windows."""
FIDELITIES_MIN: Final = (1, 60, 720)
"""Fallback when a window answers empty for a token known to have traded (§1.4.4)."""


class TradeRow(msgspec.Struct, gc=False, kw_only=True, rename={"ts_s": "timestamp"}):
    """One trade: the v2 wire row's trade fields, plus its e6 price and size (what bronze keeps).

    Market attributes repeated on every row (``title``, ``slug``, ``event_slug``, icons) and
    profile fields are left to the markets tables and the raw capture: decoding them per
    trade would cost more than the rest of the row.

    ``price``/``size`` are the raw JSON number tokens; ``parse_trades_v2`` fills
    ``price_e6``/``size_e6`` from them without a float in between.
    """

    ts_s: int
    condition_id: str
    token_id: str
    side: str
    price: msgspec.Raw
    size: msgspec.Raw
    outcome: str
    outcome_index: int
    proxy_wallet: str
    transaction_hash: str
    name: str = ""
    price_e6: int = 0
    size_e6: int = 0


class TradesPage(msgspec.Struct, gc=False):
    """One parsed page: its rows (newest first) and where the feed goes on."""

    rows: list[TradeRow]
    next_cursor: str | None
    has_more: bool


class _Pagination(msgspec.Struct, gc=False):
    has_more: bool
    next_cursor: str | None = None


class _PageV2(msgspec.Struct, gc=False):
    data: list[TradeRow]
    pagination: _Pagination


class _WireTradeV1(msgspec.Struct, gc=False, rename="camel"):
    proxy_wallet: str
    side: str
    asset: str
    condition_id: str
    size: msgspec.Raw
    price: msgspec.Raw
    timestamp: int
    outcome: str
    outcome_index: int
    transaction_hash: str
    name: str = ""


_decode_v2 = msgspec.json.Decoder(_PageV2).decode
_decode_v1 = msgspec.json.Decoder(list[_WireTradeV1]).decode


def trades_request(
    data_url: str, condition_id: str, cursor: str | None, limit: int = TRADES_V2_PAGE_MAX
) -> tuple[str, dict[str, Any]]:
    """Return (url, params) of one v2 trades page of a market; same filters on every page."""
    params: dict[str, Any] = {"condition": condition_id, "limit": limit, "taker_only": False}
    if cursor is not None:
        params["cursor"] = cursor
    return data_url.rstrip("/") + TRADES_V2, params


def parse_trades_v2(body: bytes) -> TradesPage:
    """Parse a v2 ``{data, pagination}`` page; VenueProtocolError when it is not one."""
    try:
        page = _decode_v2(body)
        _fill_e6(page.data)
    except (*DECODE_ERRORS, ValueError, VenueProtocolError) as exc:
        raise VenueProtocolError(f"bad v2 trades page: {exc}") from None
    more = page.pagination.has_more and page.pagination.next_cursor is not None
    return TradesPage(page.data, page.pagination.next_cursor if more else None, more)


def parse_trades_v1(body: bytes) -> list[TradeRow]:
    """Parse a v1 bare-array trades page (the older envelope, camelCase)."""
    try:
        rows = [
            TradeRow(
                ts_s=t.timestamp,
                condition_id=t.condition_id,
                token_id=t.asset,
                side=t.side,
                price=t.price,
                size=t.size,
                outcome=t.outcome,
                outcome_index=t.outcome_index,
                proxy_wallet=t.proxy_wallet,
                transaction_hash=t.transaction_hash,
                name=t.name,
            )
            for t in _decode_v1(body)
        ]
        _fill_e6(rows)
    except (*DECODE_ERRORS, ValueError, VenueProtocolError) as exc:
        raise VenueProtocolError(f"bad v1 trades page: {exc}") from None
    return rows


def _fill_e6(rows: list[TradeRow]) -> None:
    # Prices take a few hundred values (token_e6's cache hits); sizes take thousands, where
    # the compiled plain parser beats a cache. Either falls back to parse_e6 on odd tokens.
    plain = parse_e6_plain
    for row in rows:
        row.price_e6 = token_e6(bytes(row.price))
        size = bytes(row.size)
        value = plain(size.decode("ascii"))
        row.size_e6 = value if value >= 0 else token_e6(size)


def trade_key(row: TradeRow) -> str:
    """Return a trade's natural key (one fill; a transaction may hold several)."""
    return (
        f"{row.transaction_hash}|{row.token_id}|{row.side}|{row.price_e6}|{row.size_e6}"
        f"|{row.proxy_wallet}"
    )


class TradesFeed:
    """The v2 trades feed of one deployment: requests, pages, row keys and times."""

    def __init__(self, data_url: str, page_size: int = TRADES_V2_PAGE_MAX) -> None:
        self.data_url = data_url
        self.page_size = page_size

    def request(self, key: str, cursor: str | None) -> tuple[str, dict[str, Any]]:
        """Return (url, params) of a market's next trades page."""
        return trades_request(self.data_url, key, cursor, self.page_size)

    def parse(self, key: str, cursor: str | None, body: bytes) -> TradesPage:
        """Parse one trades page (the page carries its own cursor)."""
        return parse_trades_v2(body)

    def row_key(self, row: TradeRow) -> str:
        """Return a row's natural key."""
        return trade_key(row)

    def row_ts(self, row: TradeRow) -> int:
        """Return a row's time, epoch seconds."""
        return row.ts_s


class PriceRow(msgspec.Struct, gc=False, kw_only=True):
    """One price point of a token (what bronze ``prices`` keeps)."""

    ts_s: int
    condition_id: str
    token_id: str
    price_e6: int
    fidelity_min: int
    window_start_s: int
    window_end_s: int


class PricesPage(msgspec.Struct, gc=False):
    """One window's points (newest first) and the cursor of the next request (None: done)."""

    rows: list[PriceRow]
    next_cursor: str | None


class _Point(msgspec.Struct, gc=False):
    t: int
    p: msgspec.Raw


class _History(msgspec.Struct, gc=False):
    history: list[_Point]


_decode_history = msgspec.json.Decoder(_History).decode


def prices_request(
    clob_url: str, token_id: str, lo: int, hi: int, fidelity_min: int
) -> tuple[str, dict[str, Any]]:
    """Return (url, params) of one ``/prices-history`` window [lo, hi] of a token."""
    params = {"market": token_id, "startTs": lo, "endTs": hi, "fidelity": fidelity_min}
    return clob_url.rstrip("/") + PRICES_HISTORY, params


def parse_prices(body: bytes) -> list[tuple[int, int]]:
    """Return a ``{"history": [{t, p}]}`` answer as (ts, price e6), as sent (oldest first)."""
    try:
        return [(pt.t, token_e6(bytes(pt.p))) for pt in _decode_history(body).history]
    except (*DECODE_ERRORS, ValueError, VenueProtocolError) as exc:
        raise VenueProtocolError(f"bad prices-history answer: {exc}") from None


class PricesFeed:
    """Each token's price history, 14-day windows newest first, fidelity falling back.

    A key is ``condition_id/token_id``; a cursor is ``window_start:fidelity``. An empty
    answer moves to the next coarser fidelity when the token may have traded in the window
    (``traded``: per condition, the span of its stored trades; a condition absent from it
    is not known either way), else to the next older window at the same fidelity: older
    points are never finer. The walk ends at the key's start (``starts``) or ``since_s``.
    """

    def __init__(
        self,
        clob_url: str,
        starts: Mapping[str, int],
        traded: Mapping[str, tuple[int, int] | None],
        since_s: int | None = None,
    ) -> None:
        self.clob_url = clob_url
        self.starts = starts
        self.traded = traded
        self.since_s = since_s
        now = int(time.time())  # the first window of every key, fixed once: request and parse agree
        self.newest_lo = now - now % PRICES_WINDOW_S

    def request(self, key: str, cursor: str | None) -> tuple[str, dict[str, Any]]:
        """Return (url, params) of a token's next window."""
        lo, fidelity = self._position(cursor)
        return prices_request(
            self.clob_url, key.split("/")[1], lo, lo + PRICES_WINDOW_S - 1, fidelity
        )

    def parse(self, key: str, cursor: str | None, body: bytes) -> PricesPage:
        """Parse one window's answer into rows and the cursor that follows it."""
        points = parse_prices(body)
        lo, fidelity = self._position(cursor)
        hi = lo + PRICES_WINDOW_S - 1
        cid, token = key.split("/")
        rows = [
            PriceRow(
                ts_s=t, condition_id=cid, token_id=token, price_e6=p,
                fidelity_min=fidelity, window_start_s=lo, window_end_s=hi,
            )
            for t, p in reversed(points)
        ]  # fmt: skip
        if not rows and fidelity != FIDELITIES_MIN[-1] and self._may_have_traded(cid, lo, hi):
            coarser = FIDELITIES_MIN[FIDELITIES_MIN.index(fidelity) + 1]
            return PricesPage(rows, f"{lo}:{coarser}")
        start = max(self.starts.get(key, 0), self.since_s or 0)
        older = lo - PRICES_WINDOW_S
        return PricesPage(rows, None if lo <= start else f"{older}:{fidelity}")

    def row_key(self, row: PriceRow) -> str:
        """Return a point's natural key (one per token and bucket time)."""
        return f"{row.ts_s}|{row.fidelity_min}"

    def row_ts(self, row: PriceRow) -> int:
        """Return a point's time, epoch seconds."""
        return row.ts_s

    def _position(self, cursor: str | None) -> tuple[int, int]:
        if cursor is None:
            return self.newest_lo, FIDELITIES_MIN[0]
        lo, fidelity = cursor.split(":")
        return int(lo), int(fidelity)

    def _may_have_traded(self, cid: str, lo: int, hi: int) -> bool:
        if cid not in self.traded:
            return True
        span = self.traded[cid]
        return span is not None and span[0] <= hi and span[1] >= lo


class PolymarketHistory:
    """The hooks one backfill run uses, bound to one deployment's URLs."""

    venue = VENUE
    limits = HISTORY_LIMITS
    window_s = WINDOW_S
    trades_buckets = TRADES_BUCKETS
    trades_source = "polymarket.data_v2"
    prices_buckets = PRICES_BUCKETS
    prices_source = "polymarket.clob_prices_history"

    def __init__(
        self,
        *,
        data_url: str = DATA_URL,
        gamma_url: str = GAMMA_URL,
        clob_url: str = CLOB_URL,
        page_size: int = TRADES_V2_PAGE_MAX,
    ) -> None:
        self.data_url = data_url
        self.gamma_url = gamma_url
        self.clob_url = clob_url
        self.page_size = page_size

    async def list_markets(
        self, http: HttpClient, limit: int | None, keep: BodySink | None = None
    ) -> list[str]:
        """Return condition ids of every listed market, resolved ones included (Gamma).

        ``keep`` sees every listing body as received.
        """
        rest = PolymarketRest(http, gamma_url=self.gamma_url, clob_url="")
        out: list[str] = []
        params = {"closed": "true"}
        pages = rest.iter_markets(params, page_size=100, max_pages=100_000, on_body=keep)
        async for page, _ in pages:
            out.extend(_condition_ids(page, seen=set(out)))
            if limit is not None and len(out) >= limit:
                return out[:limit]
        return out

    async def list_tokens(
        self, http: HttpClient, limit: int | None, keep: BodySink | None = None
    ) -> dict[str, int | None]:
        """Return ``condition_id/token_id`` of every listed market's tokens -> its start (s).

        The same markets as ``list_markets`` (the first ``limit``), in the same order.
        """
        rest = PolymarketRest(http, gamma_url=self.gamma_url, clob_url="")
        out: dict[str, int | None] = {}
        seen: set[str] = set()
        pages = rest.iter_markets(
            {"closed": "true"}, page_size=100, max_pages=100_000, on_body=keep
        )
        async for page, _ in pages:
            for m in page:
                if limit is not None and len(seen) >= limit:
                    return out
                cid = _condition_ids([m], seen)
                if cid:
                    for token in _tokens(m):
                        out[f"{cid[0]}/{token}"] = _start_s(m)
        return out

    def prices_feed(
        self,
        starts: Mapping[str, int],
        traded: Mapping[str, tuple[int, int] | None],
        since_s: int | None = None,
    ) -> PricesFeed:
        """Return the price history feed (CLOB ``/prices-history``)."""
        return PricesFeed(self.clob_url, starts, traded, since_s)

    def trades_feed(self) -> TradesFeed:
        """Return the trades feed (Data API v2)."""
        return TradesFeed(self.data_url, self.page_size)


def history_hooks(config: VenueConfig) -> PolymarketHistory:
    """Return the hooks bound to a config section's URLs."""
    if not isinstance(config, PolymarketVenueConfig):
        raise TypeError(f"not a Polymarket config: {type(config).__name__}")
    return PolymarketHistory(
        data_url=config.data_url, gamma_url=config.gamma_url, clob_url=config.clob_url
    )


def _condition_ids(markets: Sequence[dict[str, Any]], seen: set[str]) -> list[str]:
    out = []
    for m in markets:
        cid = m.get("conditionId")
        if isinstance(cid, str) and cid and cid not in seen and m.get("enableOrderBook", True):
            seen.add(cid)
            out.append(cid)
    return out


def _tokens(m: Mapping[str, Any]) -> list[str]:
    try:
        tokens = json.loads(m.get("clobTokenIds") or "[]")
    except (TypeError, ValueError):
        return []
    return (
        [t for t in tokens if isinstance(t, str) and t.isdigit()]
        if isinstance(tokens, list)
        else []
    )


def _start_s(m: Mapping[str, Any]) -> int | None:
    start = m.get("startDate")
    if not isinstance(start, str):
        return None
    try:
        return int(datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None
