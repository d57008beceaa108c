"""Clocks: wall time for stamps, monotonic time for intervals (never mix the two)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


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


def iso_ms(text: str | None, *, naive_utc: bool = False) -> int | None:
    """Parse an ISO-8601 / RFC3339 instant (``Z`` or offset, any fraction) to epoch ms.

    None if it is empty or bad; a naive stamp (no offset, or a bare date) is None too, unless
    ``naive_utc`` says the venue means UTC.
    """
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        if not naive_utc:
            return None
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // _MS
