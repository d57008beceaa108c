"""Declared facts of Kalshi: hosts, paths, auth headers, limits, channel vocabulary (§2)."""

from __future__ import annotations

from typing import Final

VENUE: Final = "kalshi"
STREAM_WS: Final = "kalshi-ws"
"""Stream id prefix of the WebSocket connections (``kalshi-ws/0``, ``/1``, ...)."""
STREAM_REST: Final = "kalshi-rest"
RULE: Final = "kalshi-open"
INSTRUMENT_ID: Final = "YES"
"""One instrument per market: the ticker's YES book (poll key: the ticker)."""

# -- hosts (§2.1) -------------------------------------------------------------------------------
REST_URL: Final = "https://external-api.kalshi.com/trade-api/v2"
WS_URL: Final = "wss://external-api-ws.kalshi.com/trade-api/ws/v2"

# -- paths, relative to the REST base ---------------------------------------------------------
MARKETS: Final = "/markets"
EVENTS: Final = "/events"
ORDERBOOKS: Final = "/markets/orderbooks"
"""Batch books (``tickers=A,B``, at most 100); each item names its ticker."""
TRADES: Final = "/markets/trades"
EXCHANGE_STATUS: Final = "/exchange/status"
ORDERBOOKS_MAX: Final = 100
MARKETS_PAGE_MAX: Final = 1000
EVENTS_PAGE_MAX: Final = 200
TRADES_PAGE_MAX: Final = 1000

# -- auth (§2.2) ----------------------------------------------------------------------------------
HEADER_KEY: Final = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP: Final = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE: Final = "KALSHI-ACCESS-SIGNATURE"
WS_SIGN_PATH: Final = "/trade-api/ws/v2"
"""The WebSocket upgrade signs ``timestamp + "GET" + this path``."""

# -- rate limits (§2.3): Basic tier, 200 read tokens/s at 10 tokens a request ----------------------
READ_PER_S: Final = 20

# -- WebSocket (§2.6) -----------------------------------------------------------------------------
CHANNEL_BOOK: Final = "orderbook_delta"
CHANNEL_TRADE: Final = "trade"
CHANNEL_TICKER: Final = "ticker"
CHANNEL_LIFECYCLE: Final = "market_lifecycle_v2"
CMD_SUBSCRIBE: Final = "subscribe"
CMD_UPDATE: Final = "update_subscription"
CMD_UNSUBSCRIBE: Final = "unsubscribe"
CMD_LIST: Final = "list_subscriptions"
ACTION_ADD: Final = "add_markets"
ACTION_DELETE: Final = "delete_markets"
ACTION_SNAPSHOT: Final = "get_snapshot"
SERVER_PING_S: Final = 10.0
"""The venue pings every 10 s with the body ``heartbeat``; aiohttp answers by itself."""
MAX_FRAME_BYTES: Final = 16 * 1024 * 1024
WS_BACKOFF_RESET_S: Final = 30.0
"""A connection that stayed up this long reconnects from the base backoff delay again."""

MSG_SNAPSHOT: Final = "orderbook_snapshot"
MSG_DELTA: Final = "orderbook_delta"
MSG_TRADE: Final = "trade"
MSG_TICKER: Final = "ticker"
MSG_LIFECYCLE: Final = "market_lifecycle_v2"
CONTROL_TYPES: Final = frozenset({"subscribed", "ok", "unsubscribed", "error"})

# Error codes (§2.6.3) the client and the fake use.
ERR_UNPROCESSABLE: Final = 1
ERR_PARAMS: Final = 2
ERR_CHANNELS: Final = 3
ERR_SIDS: Final = 4
ERR_UNKNOWN_CMD: Final = 5
ERR_UNKNOWN_SID: Final = 7
ERR_UNKNOWN_CHANNEL: Final = 8
ERR_AUTH: Final = 9
ERR_ONE_SID: Final = 12
ERR_ACTION_UNSUPPORTED: Final = 13
ERR_TICKER_REQUIRED: Final = 14
ERR_ACTION_REQUIRED: Final = 15
ERR_MARKET_NOT_FOUND: Final = 16

# -- market status vocabulary (§2.5.1) -----------------------------------------------------------
FILTER_OPEN: Final = "open"
LIVE_STATUSES: Final = frozenset({"active", "open"})
"""Response statuses of a tradable market (``open`` accepted from older answers)."""

STATUS_NEW: Final = "new"
STATUS_ACTIVE: Final = "active"
STATUS_PAUSED: Final = "paused"
STATUS_RESOLVED: Final = "resolved"
STATUS_SETTLED: Final = "settled"
LIFECYCLE_STATUS: Final[dict[str, str]] = {
    "created": STATUS_NEW,
    "activated": STATUS_ACTIVE,
    "deactivated": STATUS_PAUSED,
    "determined": STATUS_RESOLVED,
    "settled": STATUS_SETTLED,
}
"""``market_lifecycle_v2`` event types the normalizer turns into ``MarketStatus``."""
