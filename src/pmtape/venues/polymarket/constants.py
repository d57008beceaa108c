"""Declared facts of Polymarket: hosts, paths, limits and channel vocabulary (PROTOCOLS.md §1)."""

from __future__ import annotations

from typing import Final

VENUE: Final = "polymarket"
STREAM_WS: Final = "polymarket-ws"
"""Stream id prefix of the market-channel shards (``polymarket-ws/0``, ``/1``, ...)."""
STREAM_REST: Final = "polymarket-rest"
RULE: Final = "gamma"

# -- hosts (§1.1) -----------------------------------------------------------------------------
GAMMA_URL: Final = "https://gamma-api.polymarket.com"
CLOB_URL: Final = "https://clob.polymarket.com"
DATA_URL: Final = "https://data-api.polymarket.com"
WS_URL: Final = "wss://ws-subscriptions-clob.polymarket.com/ws/market"

# -- paths ------------------------------------------------------------------------------------
GAMMA_MARKETS: Final = "/markets"
"""Offset pagination, deprecated (sunset 2026-05-01) but still served: the fallback."""
GAMMA_MARKETS_KEYSET: Final = "/markets/keyset"
GAMMA_EVENTS: Final = "/events"
GAMMA_EVENTS_KEYSET: Final = "/events/keyset"
CLOB_BOOK: Final = "/book"
CLOB_BOOKS: Final = "/books"
CLOB_MARKETS: Final = "/markets"

# -- pagination (§1.3.3, §1.4.5) --------------------------------------------------------------
KEYSET_PAGE_MAX: Final = 100
"""Markets keyset pages hold at most 100 markets."""
LEGACY_PAGE: Final = 100
BOOKS_BATCH_MAX: Final = 500
"""POST /books takes at most 500 token ids per call."""
CLOB_CURSOR_START: Final = "MA=="
CLOB_CURSOR_END: Final = "LTE="

# -- rate limits (§1.2): requests per 10 s, Cloudflare sliding windows ----------------------------
LIMIT_WINDOW_S: Final = 10.0
LIMITS: Final[dict[str, int]] = {
    "global": 15_000,
    "gamma": 4_000,
    "gamma_markets": 300,
    "gamma_events": 500,
    "gamma_listing": 900,
    "clob": 9_000,
    "clob_book": 1_500,
    "clob_books": 500,
    "data": 1_000,
}

# -- market channel (§1.6) ----------------------------------------------------------------------
CHANNEL_MARKET: Final = "market"
OP_SUBSCRIBE: Final = "subscribe"
OP_UNSUBSCRIBE: Final = "unsubscribe"
PING: Final = "PING"
PONG: Final = b"PONG"
PING_INTERVAL_S: Final = 10.0
ASSETS_PER_CONNECTION_MAX: Final = 500
"""Beyond about 500 assets a socket silently stops delivering (§1.6.8)."""
MAX_FRAME_BYTES: Final = 16 * 1024 * 1024
"""Initial dumps of many books arrive as one frame: allow far more than the 2 MiB seen."""

EVENT_TYPES: Final = frozenset(
    {
        "book",
        "price_change",
        "tick_size_change",
        "last_trade_price",
        "best_bid_ask",
        "new_market",
        "market_resolved",
    }
)
SIDE_BUY: Final = "BUY"
SIDE_SELL: Final = "SELL"
NO_BID: Final = "0"
NO_ASK: Final = "1"
"""``best_bid``/``best_ask`` sentinels of an empty side."""

STATUS_NEW: Final = "new"
STATUS_RESOLVED: Final = "resolved"
"""``MarketStatus.status`` values the normalizer emits."""
