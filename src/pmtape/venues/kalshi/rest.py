"""Kalshi public REST (§2.5): markets, events, batch order books and trades, unauthenticated.

Raw methods mirror the endpoints and return bodies as received, with their receive stamp
and how they were fetched. Listings page with an opaque ``cursor``; an empty (or missing,
or repeated) cursor ends them. Books are fetched with ``GET /markets/orderbooks`` because
its items name their ticker — the single-market ``/markets/{ticker}/orderbook`` body does
not, so a pure normalizer could not key it. Every request counts against the ``read``
bucket.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

import msgspec

from pmtape.core.errors import VenueProtocolError
from pmtape.net.http import HttpClient, HttpStatusError
from pmtape.net.session import HttpMeta
from pmtape.venues.base import DECODE_ERRORS
from pmtape.venues.kalshi.constants import EVENTS, MARKETS, ORDERBOOKS, ORDERBOOKS_MAX, TRADES

Body = tuple[bytes, int, HttpMeta]
BUCKETS = ("read",)


class KalshiRest:
    """The public market-data endpoints of one Kalshi deployment, over one venue client."""

    def __init__(self, http: HttpClient, *, rest_url: str) -> None:
        self.http = http
        self.base = rest_url.rstrip("/")

    async def get_markets(self, params: Mapping[str, Any]) -> Body:
        """GET /markets (``status``, ``limit``, ``cursor``, ``series_ticker``, ...)."""
        return await self.http.get(self.base + MARKETS, params, buckets=BUCKETS)

    async def get_events(self, params: Mapping[str, Any]) -> Body:
        """GET /events (``status``, ``limit`` <= 200, ``cursor``, ``series_ticker``)."""
        return await self.http.get(self.base + EVENTS, params, buckets=BUCKETS)

    async def get_orderbooks(self, tickers: Sequence[str], depth: int = 0) -> Body:
        """GET /markets/orderbooks for at most 100 tickers."""
        if not tickers or len(tickers) > ORDERBOOKS_MAX:
            raise ValueError(f"GET /markets/orderbooks takes 1 to {ORDERBOOKS_MAX} tickers")
        params: dict[str, Any] = {"tickers": ",".join(tickers)}
        if depth:
            params["depth"] = depth
        return await self.http.get(self.base + ORDERBOOKS, params, buckets=BUCKETS)

    async def get_trades(self, params: Mapping[str, Any]) -> Body:
        """GET /markets/trades (``ticker``, ``min_ts`` in seconds, ``limit``, ``cursor``)."""
        return await self.http.get(self.base + TRADES, params, buckets=BUCKETS)

    async def fetch_books(
        self, tickers: Sequence[str], *, depth: int = 0, skip_missing: bool = False
    ) -> list[Body]:
        """Fetch the books of any number of tickers, 100 a request.

        The venue leaves unknown tickers out of a batch; with ``skip_missing`` a batch it
        answers 4xx for (none of its tickers known) is left out instead of failing the fetch.
        """
        out = []
        for i in range(0, len(tickers), ORDERBOOKS_MAX):
            try:
                out.append(await self.get_orderbooks(tickers[i : i + ORDERBOOKS_MAX], depth))
            except HttpStatusError:
                if not skip_missing:
                    raise
        return out

    async def iter_pages(
        self, path: str, field: str, params: Mapping[str, Any], *, max_pages: int
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        """Yield the objects of ``field`` page by page, following ``cursor`` to its end."""
        cursor = ""
        seen: set[str] = set()
        for _ in range(max_pages):
            query = dict(params)
            if cursor:
                query["cursor"] = cursor
            body, _, _ = await self.http.get(self.base + path, query, buckets=BUCKETS)
            page = decode_object(body)
            items = page.get(field)
            yield [v for v in items if isinstance(v, dict)] if isinstance(items, list) else []
            cursor = page.get("cursor") or ""
            if not isinstance(cursor, str) or not cursor or cursor in seen:
                return
            seen.add(cursor)


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode a JSON object body; anything else is a protocol error."""
    try:
        value = msgspec.json.decode(body)
    except DECODE_ERRORS:
        raise VenueProtocolError(f"kalshi: not JSON: {body[:120]!r}") from None
    if not isinstance(value, dict):
        raise VenueProtocolError("kalshi: expected a JSON object")
    return value
