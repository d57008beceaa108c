"""Limitless public REST (§3.3): active markets, market objects and order books.

Raw methods mirror the endpoints and return bodies as received, with their receive stamp
and how they were fetched. ``/markets/active`` pages are 1-based and hold at most 25
markets; an empty page (or a short one) ends the listing. Every request counts against the
``global`` bucket, listings also against ``discovery``. The HTTP client sends its own
User-Agent: the venue refuses Python-urllib's default with 403.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import msgspec

from pmtape.core.errors import VenueProtocolError
from pmtape.net.http import HttpClient, HttpStatusError
from pmtape.net.session import HttpMeta
from pmtape.venues.base import DECODE_ERRORS
from pmtape.venues.limitless.constants import MARKET, MARKETS_ACTIVE, ORDERBOOK, PAGE_MAX

Body = tuple[bytes, int, HttpMeta]


class LimitlessRest:
    """The public market-data endpoints of one Limitless deployment, over one venue client."""

    def __init__(self, http: HttpClient, *, rest_url: str) -> None:
        self.http = http
        self.base = rest_url.rstrip("/")

    async def get_markets_active(self, params: Mapping[str, Any]) -> Body:
        """GET /markets/active (``page``, ``limit`` <= 25, ``tradeType``, ``sortBy``)."""
        return await self.http.get(
            self.base + MARKETS_ACTIVE, params, buckets=("global", "discovery")
        )

    async def get_market(self, slug: str) -> Body:
        """GET /markets/{slug}: one market object (names the slug and its tokens)."""
        url = self.base + MARKET.format(slug=quote(slug, safe=""))
        return await self.http.get(url, buckets=("global",))

    async def get_orderbook(self, slug: str) -> Body:
        """GET /markets/{slug}/orderbook: the book, naming only its YES token."""
        url = self.base + ORDERBOOK.format(slug=quote(slug, safe=""))
        return await self.http.get(url, buckets=("global",))

    async def fetch_books(
        self, slugs: Sequence[str], primed: set[str], *, skip_missing: bool = False
    ) -> list[Body]:
        """Fetch books; a slug not in ``primed`` gets its market object first (then is added).

        With ``skip_missing`` a slug the venue answers 4xx for is left out instead of
        failing the whole fetch.
        """
        out: list[Body] = []
        for slug in slugs:
            try:
                if slug not in primed:
                    out.append(await self.get_market(slug))
                    primed.add(slug)
                out.append(await self.get_orderbook(slug))
            except HttpStatusError:
                if not skip_missing:
                    raise
        return out

    async def iter_active(
        self, params: Mapping[str, Any], *, page_size: int, max_pages: int
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        """Yield the market objects of ``/markets/active`` page by page, to the last one."""
        size = min(page_size, PAGE_MAX)
        for page in range(1, max_pages + 1):
            body, _, _ = await self.get_markets_active({**params, "page": page, "limit": size})
            data = _data(body)
            yield data
            if len(data) < size:
                return


def _data(body: bytes) -> list[dict[str, Any]]:
    try:
        page = msgspec.json.decode(body)
    except DECODE_ERRORS:
        raise VenueProtocolError(f"limitless: not JSON: {body[:120]!r}") from None
    if not isinstance(page, dict):
        raise VenueProtocolError("limitless: /markets/active is not an object")
    data = page.get("data")
    return [v for v in data if isinstance(v, dict)] if isinstance(data, list) else []
