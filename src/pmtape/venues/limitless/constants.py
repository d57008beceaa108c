"""Declared facts of Limitless: hosts, paths, limits, Socket.IO framing and vocabulary (§3)."""

from __future__ import annotations

from typing import Final

VENUE: Final = "limitless"
STREAM_WS: Final = "limitless-ws"
"""Stream id prefix of the Socket.IO connections (``limitless-ws/0``, ``/1``, ...)."""
STREAM_REST: Final = "limitless-rest"
RULE: Final = "limitless-clob"
INSTRUMENT_ID: Final = "BOOK"
"""One instrument per CLOB market: its (YES) book; market id and poll key are the slug."""

# -- hosts (§3.1) -------------------------------------------------------------------------------
REST_URL: Final = "https://api.limitless.exchange"
WS_URL: Final = "wss://ws.limitless.exchange"
NAMESPACE: Final = "/markets"

# -- REST paths (§3.3) --------------------------------------------------------------------------
MARKETS_ACTIVE: Final = "/markets/active"
MARKET: Final = "/markets/{slug}"
ORDERBOOK: Final = "/markets/{slug}/orderbook"
PAGE_MAX: Final = 25
"""``limit`` above 25 is refused (400) or answered empty: walk pages of 25."""

# -- units (§3.3.2) -----------------------------------------------------------------------------
RAW_SIZE_SCALE: Final = 1_000_000
"""Sizes are raw integers in 1e6 units (``100000000`` = 100 shares) unless fractional."""

# -- markets ------------------------------------------------------------------------------------
TRADE_CLOB: Final = "clob"
MARKET_GROUP: Final = "group"
STATUS_FUNDED: Final = "funded"
STATUS_NEW: Final = "new"
STATUS_RESOLVED: Final = "resolved"
"""``MarketStatus.status`` values the normalizer emits."""

# -- Socket.IO v4 over Engine.IO v4 (§3.4.1) ----------------------------------------------------
EIO_PATH: Final = "/socket.io/"
EIO_QUERY: Final = {"EIO": "4", "transport": "websocket"}
EIO_OPEN: Final = "0"
EIO_CLOSE: Final = "1"
EIO_PING: Final = "2"
EIO_PONG: Final = "3"
SIO_CONNECT: Final = "40"
SIO_DISCONNECT: Final = "41"
SIO_EVENT: Final = "42"
SIO_CONNECT_ERROR: Final = "44"
DEFAULT_PING_INTERVAL_MS: Final = 25_000
DEFAULT_PING_TIMEOUT_MS: Final = 60_000
MAX_FRAME_BYTES: Final = 16 * 1024 * 1024
WS_BACKOFF_RESET_S: Final = 30.0
"""A connection that stayed up this long reconnects from the base backoff delay again."""

# -- events -------------------------------------------------------------------------------------
EMIT_SUBSCRIBE: Final = "subscribe_market_prices"
"""Replaces the connection's whole set: always send every wanted slug in one call."""
EV_ORDERBOOK: Final = "orderbookUpdate"
EV_SYSTEM: Final = "system"
EV_RESOLVED: Final = "marketResolved"
EV_CREATED: Final = "marketCreated"
IGNORED_EVENTS: Final = frozenset({"oraclePriceData", "newPriceData"})
"""Events a book collector reads past (oracle ticks, AMM prices)."""
