"""The fake Limitless's fault knobs: what can go wrong, switchable while it runs."""

from __future__ import annotations

from dataclasses import dataclass


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
