"""The fake Kalshi's fault knobs: what can go wrong, switchable while it runs."""

from __future__ import annotations

from dataclasses import dataclass


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
