"""The fake Limitless's knobs: the faults (switchable while it runs) and its command's options."""

from __future__ import annotations

from dataclasses import dataclass, replace

from pmtape.venues.base import Bound, FakeCommand, Knob
from pmtape.venues.fake.options import (
    DROP_EVERY,
    DURATION,
    HOST,
    HTTP_ERROR,
    MALFORMED,
    MARKETS,
    PORT,
    PUBLIC,
    RATE,
    ROLLING_PERIOD,
    ROLLING_SHARE,
    SEED,
    SILENT_AFTER,
    SLOW_MS,
    TRADE_RATIO,
    UNKNOWN,
    VIOLATION_PROB,
    violation_knob,
)
from pmtape.venues.limitless.fake.violations import VIOLATIONS


@dataclass
class LimitlessFakeFaults:
    """Faults of the fake Limitless; tests flip them at run time."""

    drop_every_s: float = 0.0
    """Close every socket this often (0: never)."""
    silent: bool = False
    """Send no events at all (Engine.IO pings still go out)."""
    no_pings: bool = False
    """Stop pinging too: a dead-looking socket the client must give up on."""
    malformed_prob: float = 0.0
    """Chance that an event is followed by a truncated (malformed JSON) one."""
    unknown_prob: float = 0.0
    """Chance per tick and socket of an event the client does not know."""
    oracle_prob: float = 0.0
    """Chance per tick and crypto market of an ``oraclePriceData`` tick (noise)."""
    duplicate_prob: float = 0.0
    """Chance that an ``orderbookUpdate`` is sent twice (same ``version``, same book)."""
    http_error_prob: float = 0.0
    """Chance that a REST request is answered with one of ``http_error_statuses``."""
    http_error_statuses: tuple[int, ...] = (429, 503)
    http_error_next: int = 0
    """Answer the next N REST requests with the first of ``http_error_statuses`` (counts down)."""
    retry_after_s: float | None = 1.0
    """``Retry-After`` sent with a 429 (None: no header, as the venue may do)."""
    slow_ms: float = 0.0
    """Delay every REST answer this long (a stalled venue: minutes)."""
    ping_interval_ms: int = 25_000
    ping_timeout_ms: int = 60_000
    """Engine.IO timings announced in the open packet and enforced by the server."""
    violation: str = ""
    """A ``violations.VIOLATIONS`` kind served in books (REST and WebSocket) ("": none)."""
    violation_prob: float = 0.0
    """Chance that a served book breaks the ``violation`` invariant."""


COMMAND = FakeCommand(
    help="""Serve a fake Limitless: REST market data and the Socket.IO market feed.

Prints one JSON line with its URLs (rest_url, ws_url, debug_url), the matching config keys
(set) and the --set flags that enable the venue and point pmtape at the fake (flags), then
serves until Ctrl-C.""",
    knobs=(
        HOST,
        PUBLIC,
        PORT,
        MARKETS,
        SEED,
        RATE,
        TRADE_RATIO,
        replace(ROLLING_SHARE, default=0.2),
        ROLLING_PERIOD,
        DROP_EVERY,
        SILENT_AFTER,
        MALFORMED,
        UNKNOWN,
        Knob(
            "oracle_prob",
            float,
            0.0,
            "Chance per tick of oraclePriceData noise, 0-1.",
            bound=Bound.SHARE,
        ),
        Knob(
            "duplicate_prob",
            float,
            0.0,
            "Chance of an orderbookUpdate sent twice, 0-1.",
            bound=Bound.SHARE,
        ),
        HTTP_ERROR,
        Knob(
            "retry_after",
            float,
            None,
            "Retry-After seconds sent with a 429 (omit: none).",
            bound=Bound.NON_NEGATIVE,
        ),
        SLOW_MS,
        violation_knob(VIOLATIONS),
        VIOLATION_PROB,
        Knob("ping_interval_ms", int, 25_000, "Engine.IO pingInterval.", min=100),
        Knob("ping_timeout_ms", int, 60_000, "Engine.IO pingTimeout.", min=100),
        DURATION,
    ),
    launch="pmtape.venues.limitless.fake.server:launch",
)
"""``pmtape fake-venue limitless``."""
