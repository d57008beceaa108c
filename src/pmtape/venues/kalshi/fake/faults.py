"""The fake Kalshi's knobs: the faults (switchable while it runs) and its command's options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
from pmtape.venues.kalshi.fake.violations import VIOLATIONS


@dataclass
class KalshiFakeFaults:
    """Faults of the fake Kalshi; tests flip them at run time."""

    drop_every_s: float = 0.0
    """Close every WebSocket this often (0: never)."""
    silent: bool = False
    """Send no data at all (the server's heartbeat pings still go out)."""
    malformed_prob: float = 0.0
    """Chance that a data frame is followed by a truncated (malformed JSON) one."""
    unknown_prob: float = 0.0
    """Chance per tick and socket of a frame with an unknown ``type``."""
    gap_every: int = 0
    """Lose every N-th ``orderbook_delta`` of each subscription, its ``seq`` consumed (0: never)."""
    refuse_snapshot: bool = False
    """Answer ``get_snapshot`` with an error (the client must fall back to reconnecting)."""
    http_error_prob: float = 0.0
    """Chance that a REST request (or WebSocket upgrade) is answered with an error status."""
    http_error_statuses: tuple[int, ...] = (429, 503)
    """429 comes as ``{"error": "too many requests"}`` without ``Retry-After``, as on the venue."""
    slow_ms: float = 0.0
    """Delay every REST answer and upgrade this long (a stalled venue: minutes)."""
    ping_interval_s: float = 10.0
    """Server Ping frames (body ``heartbeat``) this often."""
    max_skew_ms: int = 300_000
    """Refuse a signed upgrade whose timestamp is further than this from the fake's clock."""
    listing_lag_s: float = 0.0
    """``/markets`` lists a market only this long after it opened (``market_lifecycle_v2``
    announces it at once)."""
    violation: str = ""
    """A ``violations.VIOLATIONS`` kind served in books (WS snapshots, REST) ("": none)."""
    violation_prob: float = 0.0
    """Chance that a served book breaks the ``violation`` invariant."""


COMMAND = FakeCommand(
    help="""Serve a fake Kalshi: REST market data and the signed WebSocket.

Prints one JSON line with its URLs (rest_url, ws_url, debug_url), the key id and — for a
throwaway key pair — the private key's path, the matching config keys (set), the --set
flags that enable the venue and point pmtape at the fake (flags) and the env that adds the
key id (the WebSocket; without it pmtape polls REST), then serves until Ctrl-C.""",
    knobs=(
        HOST,
        PUBLIC,
        PORT,
        MARKETS,
        SEED,
        RATE,
        TRADE_RATIO,
        ROLLING_SHARE,
        ROLLING_PERIOD,
        DROP_EVERY,
        SILENT_AFTER,
        MALFORMED,
        UNKNOWN,
        HTTP_ERROR,
        SLOW_MS,
        Knob("gap_every", int, 0, "Lose every N-th delta of each subscription (0: never).", min=0),
        violation_knob(VIOLATIONS),
        VIOLATION_PROB,
        Knob("refuse_snapshot", bool, False, "Refuse get_snapshot (forces reconnects)."),
        Knob("ping_interval", float, 10.0, "Server ping cadence, s.", min=0.1),
        Knob(
            "listing_lag",
            float,
            0.0,
            "/markets lists a new market only this many s after it was announced.",
            bound=Bound.NON_NEGATIVE,
        ),
        Knob(
            "public_key",
            Path,
            None,
            "PEM public key accepted on the WebSocket (default: a throwaway pair).",
        ),
        Knob("key_id", str, None, "Key id of --public-key (default: random)."),
        DURATION,
    ),
    launch="pmtape.venues.kalshi.fake.server:launch",
)
"""``pmtape fake-venue kalshi``."""
