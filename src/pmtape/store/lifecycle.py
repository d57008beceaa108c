"""The lifecycle log: markets a venue's stream announced opening or resolving, for discovery.

``state/venue=V/lifecycle/date=D.jsonl``, one ``LifecycleRecord`` a line. The collector
appends what its normalizer saw (``new_market``/``market_resolved``, ``market_lifecycle_v2``,
``marketCreated``/``marketResolved``) from its own task, never from the receive path;
discovery's next cycle reads the recent records back, so a new market the venue's listing
does not show yet stays in the active set for ``NEW_MARKET_GRACE_MS`` and a resolved one
is left out even while a listing still shows it. One file a UTC day keeps every read small.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from pmtape.core.instrument import Instrument
from pmtape.store.jsonl import append_jsonl, iter_jsonl
from pmtape.store.layout import lifecycle_log_path

NEW_MARKET_GRACE_MS = 1_800_000
"""How long a market the stream announced is kept while the venue's listing lacks it."""
RESOLVED_MEMORY_MS = 86_400_000
"""How far back discovery reads the log: a resolved market stays out this long at least."""
_DAY_MS = 86_400_000


class LifecycleRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One announcement: a market's new status, its poll keys, and (new) its instruments."""

    ts_ms: int
    """When the collector received it."""
    venue: str
    market_id: str
    status: str
    keys: list[str]
    instruments: list[Instrument] = msgspec.field(default_factory=list)
    """The instruments the collector built from a new market's announcement (none: it
    could not, and the market waits for discovery)."""


def append_lifecycle(data_dir: Path, venue: str, records: Iterable[LifecycleRecord]) -> int:
    """Append records to their day's log (blocking file I/O: call it off the event loop)."""
    by_path: dict[Path, list[LifecycleRecord]] = {}
    for rec in records:
        by_path.setdefault(lifecycle_log_path(data_dir, venue, rec.ts_ms), []).append(rec)
    return sum(append_jsonl(path, recs) for path, recs in by_path.items())


def read_lifecycle(
    data_dir: Path, venue: str, now_ms: int, window_ms: int = RESOLVED_MEMORY_MS
) -> list[LifecycleRecord]:
    """Return a venue's records of the last ``window_ms``, oldest first (torn lines skipped)."""
    since = now_ms - window_ms
    out: list[LifecycleRecord] = []
    for day in range(since - since % _DAY_MS, now_ms + 1, _DAY_MS):
        path = lifecycle_log_path(data_dir, venue, day)
        if path.exists():
            day_records: Iterator[LifecycleRecord] = iter_jsonl(path, LifecycleRecord)
            out.extend(r for r in day_records if r.ts_ms >= since)
    out.sort(key=lambda r: r.ts_ms)
    return out
