"""Clocks: wall time for stamps, monotonic time for intervals (never mix the two)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    """Return wall-clock time as epoch milliseconds (UTC)."""
    return time.time_ns() // 1_000_000


def mono_s() -> float:
    """Return monotonic seconds, for intervals, backoff and deadlines."""
    return time.monotonic()


def utc_date(ms: int) -> str:
    """Return the UTC date YYYY-MM-DD of an epoch-ms instant."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def iso_utc(ms: int) -> str:
    """Return an ISO-8601 UTC string of an epoch-ms instant."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
