"""The fake's fault knobs: what can go wrong, switchable while it runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeFaults:
    """Faults of the fake Polymarket; tests flip them at run time."""

    drop_every_s: float = 0.0
    """Close every market-channel socket this often (0: never)."""
    silent: bool = False
    """Send no data at all while still answering PING with PONG."""
    malformed_prob: float = 0.0
    """Chance that a data frame is followed by a truncated (malformed JSON) one."""
    unknown_prob: float = 0.0
    """Chance per tick and socket of a frame with an unknown ``event_type``."""
    http_error_prob: float = 0.0
    """Chance that a REST request is answered with one of ``http_error_statuses``."""
    http_error_statuses: tuple[int, ...] = (429, 500)
    retry_after_s: float | None = 1.0
    """``Retry-After`` sent with those errors (None: no header)."""
    slow_ms: float = 0.0
    """Delay every REST answer this long (the venue throttles by delay)."""
    max_assets_per_conn: int = 500
    """Tokens past this many on one socket are accepted and silently never served."""
    missing_hash_prob: float = 0.1
    """Chance that a ``book`` comes without ``hash``."""
    dynamic_ops: bool = True
    """Honour ``operation: subscribe/unsubscribe`` (False: ignore them, as older servers)."""
    dump_on_operation: bool = True
    """Send books for tokens added with ``operation: subscribe`` (False: only on connect)."""
    keyset: bool = True
    """Serve ``/markets/keyset`` (False: 404, an older deployment)."""
    legacy_max_offset: int = 10_000
    """Legacy ``/markets`` answers 422 past this offset."""
