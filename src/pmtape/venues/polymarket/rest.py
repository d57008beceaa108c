"""Polymarket REST: CLOB books (``GET /book``, ``POST /books``) and Gamma market listings.

Raw methods mirror the endpoints and return bodies as received, with their receive stamp
and how they were fetched. Gamma listing pages through ``/markets/keyset`` (``after_cursor``;
the last page has no ``next_cursor``) and falls back to the deprecated offset form
(``/markets``, a bare array, stop on a short page or a 422 "offset too large") when the
keyset endpoint is not there.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any

import msgspec

from pmtape.core.errors import VenueError, VenueProtocolError
from pmtape.net.http import HttpClient, HttpStatusError, error_answer
from pmtape.net.session import HttpMeta
from pmtape.venues.base import DECODE_ERRORS
from pmtape.venues.polymarket.constants import (
    BOOKS_BATCH_MAX,
    CLOB_BOOK,
    CLOB_BOOKS,
    GAMMA_MARKETS,
    GAMMA_MARKETS_KEYSET,
    KEYSET_PAGE_MAX,
)

Body = tuple[bytes, int, HttpMeta]
BodySink = Callable[[bytes, int, HttpMeta], None]
"""Receives a body as received: (body, ts_recv_ns, how it was fetched)."""
_encode = msgspec.json.Encoder().encode
_KEYSET_MISSING = (404, 405, 501)


class PolymarketRest:
    """CLOB and Gamma endpoints of one Polymarket deployment, over one venue HTTP client."""

    def __init__(self, http: HttpClient, *, gamma_url: str, clob_url: str) -> None:
        self.http = http
        self.gamma_url = gamma_url.rstrip("/")
        self.clob_url = clob_url.rstrip("/")
        self.legacy_pages = 0

    # -- CLOB ---------------------------------------------------------------------------------

    async def get_book(self, token_id: str) -> Body:
        """GET /book for one token."""
        return await self.http.get(
            self.clob_url + CLOB_BOOK,
            {"token_id": token_id},
            buckets=("global", "clob", "clob_book"),
        )

    async def post_books(self, token_ids: Sequence[str]) -> Body:
        """POST /books for at most 500 tokens (a flat array of ``{"token_id": ...}``)."""
        if len(token_ids) > BOOKS_BATCH_MAX:
            raise ValueError(f"POST /books takes at most {BOOKS_BATCH_MAX} tokens")
        body = _encode([{"token_id": t} for t in token_ids])
        return await self.http.post(
            self.clob_url + CLOB_BOOKS,
            body,
            buckets=("global", "clob", "clob_books"),
            items=len(token_ids),
        )

    async def fetch_books(
        self, token_ids: Sequence[str], *, batch: bool, skip_missing: bool = False
    ) -> list[Body]:
        """Fetch full books: batched POST /books, or one GET /book per token.

        With ``skip_missing`` a token the venue answers 4xx for (unknown, no book) is left
        out instead of failing the whole fetch.
        """
        if batch:
            return [
                await self.post_books(token_ids[i : i + BOOKS_BATCH_MAX])
                for i in range(0, len(token_ids), BOOKS_BATCH_MAX)
            ]
        out = []
        for token in token_ids:
            try:
                out.append(await self.get_book(token))
            except HttpStatusError:
                if not skip_missing:
                    raise
        return out

    # -- Gamma ---------------------------------------------------------------------------------

    async def iter_markets(
        self,
        params: Mapping[str, Any],
        *,
        page_size: int,
        max_pages: int,
        on_body: BodySink | None = None,
    ) -> AsyncGenerator[tuple[list[dict[str, Any]], int], None]:
        """Yield (markets, ts_recv_ns) per page: keyset pagination, legacy offset as fallback.

        ``on_body`` sees every page's body as received, before it is decoded (raw first).
        """
        size = min(page_size, KEYSET_PAGE_MAX)
        cursor: str | None = None
        for _ in range(max_pages):
            query = {**params, "limit": size}
            if cursor:
                query["after_cursor"] = cursor
            try:
                body, ts, _ = await self._get_gamma(GAMMA_MARKETS_KEYSET, query, on_body)
            except HttpStatusError as exc:
                if exc.status not in _KEYSET_MISSING or cursor is not None:
                    raise
                async for page in self._iter_legacy(params, size, max_pages, on_body):
                    yield page
                return
            page = _decode_json(body)
            if isinstance(page, list):  # an older deployment answering the bare-array form
                yield _objects(page), ts
                return
            if not isinstance(page, dict):
                raise VenueProtocolError("Gamma keyset page is neither object nor array")
            yield _objects(page.get("markets")), ts
            cursor = page.get("next_cursor")
            if not isinstance(cursor, str) or not cursor:
                return

    async def _iter_legacy(
        self, params: Mapping[str, Any], size: int, max_pages: int, on_body: BodySink | None
    ) -> AsyncGenerator[tuple[list[dict[str, Any]], int], None]:
        for page_no in range(max_pages):
            query = {**params, "limit": size, "offset": page_no * size}
            try:
                body, ts, _ = await self._get_gamma(GAMMA_MARKETS, query, on_body)
            except HttpStatusError as exc:
                if exc.status == 422:  # "offset too large, use /markets/keyset": the end
                    return
                raise
            self.legacy_pages += 1
            page = _decode_json(body)
            markets = _objects(page if isinstance(page, list) else None)
            yield markets, ts
            if len(markets) < size:
                return

    async def _get_gamma(
        self, path: str, query: Mapping[str, Any], on_body: BodySink | None
    ) -> Body:
        buckets = ("global", "gamma", "gamma_markets", "gamma_listing")
        try:
            got = await self.http.get(self.gamma_url + path, query, buckets=buckets)
        except VenueError as exc:
            answer = error_answer(exc)
            if answer is not None and on_body is not None:
                on_body(answer.body, answer.ts_recv_ns, answer.meta)
            raise
        if on_body is not None:
            on_body(*got)
        return got


def _decode_json(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except DECODE_ERRORS:
        raise VenueProtocolError(f"not JSON: {body[:120]!r}") from None


def _objects(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict)]
