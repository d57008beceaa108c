"""The fake's Gamma: market objects shaped like the venue's, keyset and legacy pagination.

Every active sim market is listed with JSON-encoded ``outcomes``/``clobTokenIds``/
``outcomePrices`` strings, string ``volume``/``liquidity`` with numeric twins, ISO dates,
its parent event and (with ``include_tag=true``) its tags. Decoys that a collector must
filter out are mixed in: markets without an order book, inactive ones, ones past their end
date but not yet closed, and closed ones (listed only when ``closed=true`` is asked for).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from hashlib import blake2b
from typing import Any

from pmtape.core.fixed import format_e6
from pmtape.venues.polymarket.fake_wire import PmIds
from pmtape.venues.sim.generator import SimMarket

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


class GammaError(Exception):
    """A request Gamma answers with a 4xx JSON error."""

    def __init__(self, status: int, body: dict[str, str]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


class GammaCatalog:
    """Gamma's view of the fake's markets (active ones plus decoys)."""

    def __init__(self, ids: PmIds, *, decoys: bool = True) -> None:
        self.ids = ids
        self.decoys = decoys

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
            "orderPriceMinTickSize": float(format_e6(m.tick_e6)),
            "orderMinSize": 5,
            "bestBid": float(bid),
            "bestAsk": float(ask),
            "lastTradePrice": 0.0,
            "spread": round(float(ask) - float(bid), 6),
            "negRisk": False,
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
