"""Declared facts of the built-in synthetic venue ``sim``."""

from __future__ import annotations

from typing import Final

VENUE: Final = "sim"
STREAM: Final = "sim-ws"
"""Stream id a session hands to its sink with every frame and lifecycle event."""
RULE: Final = "sim"

ANCHOR_MS: Final = 1_767_225_600_000
"""2026-01-01T00:00:00Z: long-lived market lifetimes are laid out from here, never from 'now',
so that a discover process and a collect process agree on the universe."""

SCALE_E6: Final = 1_000_000
TICK_E6: Final = 10_000
"""Most markets quote in cents (0.01)."""
FINE_TICK_E6: Final = 1_000
FINE_TICK_SHARE: Final = 0.15
"""Share of long-lived markets quoted in tenths of a cent (0.001)."""

MIN_LEVELS: Final = 5
MAX_LEVELS: Final = 60
"""Every side of every book holds between these many levels, initially and ever after."""

MID_MIN_E6: Final = 80_000
MID_MAX_E6: Final = 920_000
"""Initial mids stay this far from 0 and 1 so both sides have room for MIN_LEVELS ticks."""

LONG_LIFETIME_DAYS: Final = (3, 7, 10, 14, 21, 30, 45, 60, 90)
"""Lifetimes of long-lived markets; each slot reopens a fresh market when one closes."""

OUTCOMES: Final = ("Yes", "No")
SIDE_BUY: Final = "buy"
SIDE_SELL: Final = "sell"

ROUND_SIZES: Final = (5, 10, 15, 20, 25, 50, 100, 150, 200, 250, 500, 1000, 2500, 5000, 10000)
ROUND_SIZE_SHARE: Final = 0.25
"""Share of order sizes that are round share counts; the rest are cents-precise lognormals."""

TAG_WEIGHTS: Final = (
    ("politics", 25),
    ("sports", 25),
    ("crypto", 18),
    ("economics", 12),
    ("weather", 8),
    ("culture", 7),
    ("tech", 5),
)

ROLLING_ASSETS: Final = (
    ("btc", "Bitcoin"),
    ("eth", "Ethereum"),
    ("sol", "Solana"),
    ("xrp", "XRP"),
    ("doge", "Dogecoin"),
    ("bnb", "BNB"),
    ("ada", "Cardano"),
    ("avax", "Avalanche"),
    ("link", "Chainlink"),
    ("dot", "Polkadot"),
    ("ltc", "Litecoin"),
    ("trx", "Tron"),
    ("ton", "Toncoin"),
    ("near", "NEAR"),
    ("sui", "Sui"),
    ("hype", "Hyperliquid"),
)

SESSION_TICK_S: Final = 0.01
"""The live session wakes this often and emits what the generator produced meanwhile."""
SESSION_MAX_CHUNK: Final = 2_000
"""At most this many generated messages per loop turn, so the receive loop never stalls."""
SESSION_MAX_BACKLOG_S: Final = 2.0
"""A session further behind than this skips the excess instead of catching up forever."""
FRAME_MAX_MESSAGES: Final = 50
"""A burst on one market is delivered as an array frame of at most this many messages."""
# Initial books sent per session turn: a big subscription never holds the loop for long.
SESSION_BOOKS_PER_TURN = 40
