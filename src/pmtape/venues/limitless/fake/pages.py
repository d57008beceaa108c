"""The fake Limitless's site navigation: ``/navigation``, market pages and property keys.

What the official SDK's ``MarketPageFetcher`` reads, built from the markets the fake lists so
every page's markets are the fake's own rows. Each category of the listing is a top-level
navigation node and market page (``/crypto``), each tag under it a child (``/crypto/btc``).
Two property keys describe them: ``category`` (select) and ``tag`` (multi-select, each option
under its category's option). A page's ``baseFilter`` and the query's filters both use those
keys' slugs and option values. ``/market-pages/by-path`` answers 301 to the canonical path for
a legacy ``/categories/<slug>`` path, as the venue does for moved pages; the SDK follows it.
``/market-pages/{id}/markets`` answers offset pages (``pagination``) when ``page`` is given,
else cursor pages (``cursor.nextCursor``, null at the end) [I: which one the venue picks].
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from aiohttp import web
from multidict import MultiMapping

from pmtape.venues.limitless.constants import PAGE_MAX
from pmtape.venues.limitless.messages import Market

_encode = msgspec.json.Encoder().encode
_STAMP = "2026-01-01T00:00:00.000Z"
"""``createdAt``/``updatedAt`` of the taxonomy (it is derived, so it never changes)."""
LEGACY_PREFIX = "/categories"
"""Old page paths that answer 301 to the page's current path."""
_SORTS: dict[str, Callable[[Market], Any]] = {
    "createdAt": lambda m: m.createdAt,
    "updatedAt": lambda m: m.updatedAt,
    "deadline": lambda m: m.expirationTimestamp or 0,
    "id": lambda m: m.id,
}
_PAGING = frozenset({"page", "limit", "sort", "cursor"})


class NavigationNode(msgspec.Struct, kw_only=True):
    """A node of ``GET /navigation``: a page's name and path, with its sub-pages."""

    id: str
    name: str
    slug: str
    path: str
    icon: str | None = None
    children: list[NavigationNode] = []


class FilterOption(msgspec.Struct, kw_only=True):
    """One choice of a page's filter group."""

    label: str
    value: str
    metadata: dict[str, Any] | None = None


class FilterGroup(msgspec.Struct, kw_only=True):
    """A filter a page offers: the options of one property key."""

    name: str
    slug: str
    allowMultiple: bool
    presentation: str
    options: list[FilterOption]
    source: dict[str, Any]


class Breadcrumb(msgspec.Struct, kw_only=True):
    """One step of a page's ``breadcrumb`` (root first, the page itself last)."""

    name: str
    slug: str
    path: str


class MarketPage(msgspec.Struct, kw_only=True):
    """``GET /market-pages/by-path``: a page, the filter that selects its markets, its filters."""

    id: str
    name: str
    slug: str
    fullPath: str
    description: str | None
    baseFilter: dict[str, str]
    filterGroups: list[FilterGroup]
    metadata: dict[str, Any]
    breadcrumb: list[Breadcrumb]


class PropertyOption(msgspec.Struct, kw_only=True):
    """A value of a property key (a tag's option names its category's option as parent)."""

    id: str
    propertyKeyId: str
    value: str
    label: str
    sortOrder: int
    parentOptionId: str | None
    metadata: dict[str, Any] = {}
    createdAt: str = _STAMP
    updatedAt: str = _STAMP


class PropertyKey(msgspec.Struct, kw_only=True):
    """``GET /property-keys[/{id}]``: a key markets are classified by, with its options."""

    id: str
    name: str
    slug: str
    type: str
    metadata: dict[str, Any]
    isSystem: bool
    options: list[PropertyOption] | None
    createdAt: str = _STAMP
    updatedAt: str = _STAMP


def slugify(text: str) -> str:
    """The URL slug of a category or tag name."""
    return "-".join(text.lower().split())


def _taxonomy(listing: Sequence[Market]) -> dict[str, tuple[str, list[str]]]:
    """Category slug -> (category name, its tags), in first-listed order."""
    out: dict[str, tuple[str, list[str]]] = {}
    for m in listing:
        for cat in m.categories:
            _, tags = out.setdefault(slugify(cat), (cat, []))
            tags.extend(t for t in m.tags if t not in tags)
    return out


def property_keys(listing: Sequence[Market]) -> list[PropertyKey]:
    """The ``category`` and ``tag`` keys with every option the listing uses."""
    cats: list[PropertyOption] = []
    tags: list[PropertyOption] = []
    for i, (cslug, (name, names)) in enumerate(_taxonomy(listing).items()):
        parent = f"opt-category-{cslug}"
        cats.append(
            PropertyOption(
                id=parent,
                propertyKeyId="pk-category",
                value=cslug,
                label=name,
                sortOrder=i,
                parentOptionId=None,
            )
        )
        tags.extend(
            PropertyOption(id=f"opt-tag-{cslug}-{slugify(t)}", propertyKeyId="pk-tag",
                           value=t, label=t, sortOrder=j, parentOptionId=parent)
            for j, t in enumerate(names)
        )  # fmt: skip
    return [
        PropertyKey(id="pk-category", name="Category", slug="category", type="select",
                    metadata={}, isSystem=True, options=cats),
        PropertyKey(id="pk-tag", name="Tag", slug="tag", type="multi-select",
                    metadata={}, isSystem=True, options=tags),
    ]  # fmt: skip


def navigation(listing: Sequence[Market]) -> list[NavigationNode]:
    """The navigation tree: a node per category, a child per tag under it."""
    return [
        NavigationNode(
            id=f"nav-{cslug}",
            name=name,
            slug=cslug,
            path=f"/{cslug}",
            children=[
                NavigationNode(
                    id=f"nav-{cslug}-{slugify(t)}", name=t, slug=slugify(t), path=f"/{cslug}/{t}"
                )
                for t in tags
            ],
        )
        for cslug, (name, tags) in _taxonomy(listing).items()
    ]


def market_pages(listing: Sequence[Market]) -> dict[str, MarketPage]:
    """Every page by its path: a category page with a tag filter, and a page per tag."""
    pages: dict[str, MarketPage] = {}
    for node in navigation(listing):
        top = Breadcrumb(name=node.name, slug=node.slug, path=node.path)
        group = FilterGroup(
            name="Tag",
            slug="tag",
            allowMultiple=True,
            presentation="chips",
            options=[FilterOption(label=c.name, value=c.name) for c in node.children],
            source={"type": "property", "propertyKeyId": "pk-tag"},
        )
        pages[node.path] = _page(node, {"category": node.slug}, [group], [top])
        for child in node.children:
            base = {"category": node.slug, "tag": child.name}
            crumb = Breadcrumb(name=child.name, slug=child.slug, path=child.path)
            pages[child.path] = _page(child, base, [], [top, crumb])
    return pages


def _page(
    node: NavigationNode, base: dict[str, str], groups: list[FilterGroup], crumbs: list[Breadcrumb]
) -> MarketPage:
    return MarketPage(
        id=node.id.replace("nav-", "page-", 1),
        name=node.name,
        slug=node.slug,
        fullPath=node.path,
        description=f"{node.name} prediction markets",
        baseFilter=base,
        filterGroups=groups,
        metadata={"navigationId": node.id},
        breadcrumb=crumbs,
    )


def matches(market: Market, filters: Sequence[tuple[str, list[str]]]) -> bool:
    """Whether a market passes every filter: it has one of the wanted values of each key
    (``category``: category slugs; ``tag``: tag names)."""
    for key, wanted in filters:
        have = {slugify(c) for c in market.categories} if key == "category" else set(market.tags)
        if not have & set(wanted):
            return False
    return True


class BadQuery(ValueError):
    """A query the venue answers with 400."""


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _offset(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise BadQuery("invalid cursor") from exc
    if not text.startswith("o:") or not text[2:].isdigit():
        raise BadQuery("invalid cursor")
    return int(text[2:])


def page_markets(
    page: MarketPage, rows: Sequence[Market], query: MultiMapping[str]
) -> dict[str, Any]:
    """``GET /market-pages/{id}/markets``'s body for a query (``BadQuery`` if it is bad)."""
    chosen = [m for m in rows if matches(m, _filters(page, query))]
    sort = query.get("sort")
    if sort is not None:
        order = _SORTS.get(sort.removeprefix("-"))
        if order is None:
            raise BadQuery(f"invalid sort {sort!r}")
        chosen.sort(key=order, reverse=sort.startswith("-"))
    return _paged(chosen, query)


def _filters(page: MarketPage, query: MultiMapping[str]) -> list[tuple[str, list[str]]]:
    """The page's ``baseFilter`` and, all required as well, the query's filters."""
    filters = [(k, [v]) for k, v in page.baseFilter.items()]
    for key in query.keys() - _PAGING:
        if key not in ("category", "tag"):
            raise BadQuery(f"unknown filter {key!r}")
        filters.append((key, query.getall(key)))
    return filters


def _paged(chosen: list[Market], query: MultiMapping[str]) -> dict[str, Any]:
    """One offset page (``page`` given) or cursor page of ``chosen``."""
    try:
        limit = int(query.get("limit", PAGE_MAX))
        number = int(query["page"]) if "page" in query else None
    except ValueError as exc:
        raise BadQuery("page and limit must be integers") from exc
    if not 1 <= limit <= PAGE_MAX or (number is not None and number < 1):
        raise BadQuery(f"limit must be between 1 and {PAGE_MAX}, page at least 1")
    if number is not None:
        if "cursor" in query:
            raise BadQuery("cursor and page are mutually exclusive")
        total = len(chosen)
        pagination = {
            "page": number,
            "limit": limit,
            "total": total,
            "totalPages": -(-total // limit),
        }
        return {"data": chosen[(number - 1) * limit : number * limit], "pagination": pagination}
    start = _offset(query["cursor"]) if "cursor" in query else 0
    end = start + limit
    return {
        "data": chosen[start:end],
        "cursor": {"nextCursor": _cursor(end) if end < len(chosen) else None},
    }


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=_encode(value), status=status, content_type="application/json", headers=headers
    )


class FakeLimitlessPages:
    """HTTP handlers of the navigation side, reading the fake's current listing."""

    def __init__(self, listing: Callable[[], list[Market]]) -> None:
        self.listing = listing

    def routes(self, app: web.Application) -> None:
        """Register ``/navigation``, ``/market-pages/...`` and ``/property-keys/...``."""
        r = app.router
        r.add_get("/navigation", self.navigation)
        r.add_get("/market-pages/by-path", self.by_path)
        r.add_get("/market-pages/{page_id}/markets", self.markets)
        r.add_get("/property-keys", self.keys)
        r.add_get("/property-keys/{key_id}", self.key)
        r.add_get("/property-keys/{key_id}/options", self.options)

    async def navigation(self, request: web.Request) -> web.Response:
        """``GET /navigation``: the tree of pages."""
        return _json(navigation(self.listing()))

    async def by_path(self, request: web.Request) -> web.Response:
        """``GET /market-pages/by-path?path=``: a page; 301 from a legacy path; else 404."""
        path = request.query.get("path", "")
        if path.startswith(LEGACY_PREFIX + "/"):
            moved = "/" + path.removeprefix(LEGACY_PREFIX + "/")
            location = f"/market-pages/by-path?path={moved}"
            return _json({"message": "Moved Permanently"}, 301, {"Location": location})
        page = market_pages(self.listing()).get(path)
        if page is None:
            return _json({"message": "Market page not found"}, 404)
        return _json(page)

    async def markets(self, request: web.Request) -> web.Response:
        """``GET /market-pages/{id}/markets``: the page's markets, filtered, sorted, paged."""
        rows = self.listing()
        wanted = request.match_info["page_id"]
        page = next((p for p in market_pages(rows).values() if p.id == wanted), None)
        if page is None:
            return _json({"message": "Market page not found"}, 404)
        try:
            return _json(page_markets(page, rows, request.query))
        except BadQuery as exc:
            return _json({"message": str(exc)}, 400)

    async def keys(self, request: web.Request) -> web.Response:
        """``GET /property-keys``: every key with its options."""
        return _json(property_keys(self.listing()))

    async def key(self, request: web.Request) -> web.Response:
        """``GET /property-keys/{id}``: one key, or 404."""
        found = self._key(request)
        return _json(found) if found else _json({"message": "Property key not found"}, 404)

    async def options(self, request: web.Request) -> web.Response:
        """``GET /property-keys/{id}/options[?parentId=]``: its options, under a parent if given."""
        found = self._key(request)
        if found is None:
            return _json({"message": "Property key not found"}, 404)
        parent = request.query.get("parentId")
        options = found.options or []
        return _json([o for o in options if parent is None or o.parentOptionId == parent])

    def _key(self, request: web.Request) -> PropertyKey | None:
        wanted = request.match_info["key_id"]
        return next((k for k in property_keys(self.listing()) if k.id == wanted), None)
