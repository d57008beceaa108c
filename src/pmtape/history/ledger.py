"""The history ledger: per source, table, key and day, what was asked, got and stored.

Rendered from the committed state (``state.HistoryState``) to ``history/ledger.parquet``
after every commit. One row per key and day it has rows for, plus one row per key with a
null ``dt`` carrying the request outcomes (requests, pages, empty answers, errors,
refusals, malformed pages, repeated rows). Status tells a quiet market from an outage:

- ``complete``: the feed answered its last page (or reached the ``--since`` floor) with rows;
- ``empty``: it did so without a single row (valid empty answers, never an error);
- ``partial``: rows are stored but the feed has not been walked to its end;
- ``failed``: requests were made, none gave rows, and the feed is not at its end;
- ``pending``: not asked yet.

Feeds run newest first, so for a ``partial`` key every day newer than its oldest stored day
is ``complete`` and the oldest one is ``partial``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pmtape.history.bronze import LEDGER
from pmtape.history.state import HistoryState, KeyCursor, KeyLedger
from pmtape.store.atomic import atomic_target

LEDGER_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("table", pa.string()),
        ("key", pa.string()),
        ("dt", pa.string()),
        ("requests", pa.int64()),
        ("pages", pa.int64()),
        ("rows", pa.int64()),
        ("empty_answers", pa.int64()),
        ("errors", pa.int64()),
        ("refusals", pa.int64()),
        ("malformed", pa.int64()),
        ("repeats", pa.int64()),
        ("first_ts", pa.int64()),
        ("last_ts", pa.int64()),
        ("status", pa.string()),
    ]
)


def key_status(cursor: KeyCursor | None, entry: KeyLedger) -> str:
    """Return a key's status (see the module docstring)."""
    rows = sum(c.rows for c in entry.dts.values())
    done = cursor is not None and cursor.done
    if done:
        return "complete" if rows else "empty"
    if rows:
        return "partial"
    return "failed" if entry.outcomes.requests else "pending"


def ledger_rows(state: HistoryState) -> list[dict[str, object]]:
    """Return the ledger as rows of ``LEDGER_SCHEMA``."""
    out: list[dict[str, object]] = []
    for table, entries in sorted(state.ledger.items()):
        source = state.sources.get(table, "")
        cursors = state.cursors.get(table, {})
        for key, entry in sorted(entries.items()):
            status = key_status(cursors.get(key), entry)
            o = entry.outcomes
            days = sorted(entry.dts)
            first = min(
                (c.first_ts for c in entry.dts.values() if c.first_ts is not None), default=None
            )
            last = max(
                (c.last_ts for c in entry.dts.values() if c.last_ts is not None), default=None
            )
            out.append(
                {
                    "source": source, "table": table, "key": key, "dt": None,
                    "requests": o.requests, "pages": o.pages,
                    "rows": sum(c.rows for c in entry.dts.values()),
                    "empty_answers": o.empty, "errors": o.errors, "refusals": o.refusals,
                    "malformed": o.malformed, "repeats": o.repeats,
                    "first_ts": first, "last_ts": last, "status": status,
                }
            )  # fmt: skip
            for dt in days:
                c = entry.dts[dt]
                day_status = status
                if status == "partial" and dt != days[0]:
                    day_status = "complete"  # newest first: only the oldest day is cut short
                out.append(
                    {
                        "source": source, "table": table, "key": key, "dt": dt,
                        "requests": 0, "pages": 0, "rows": c.rows, "empty_answers": 0,
                        "errors": 0, "refusals": 0, "malformed": 0, "repeats": 0,
                        "first_ts": c.first_ts, "last_ts": c.last_ts,
                        "status": day_status,
                    }
                )  # fmt: skip
    return out


def write_ledger(root: Path, state: HistoryState) -> None:
    """Replace ``history/ledger.parquet`` with the ledger of ``state``."""
    table = pa.Table.from_pylist(ledger_rows(state), schema=LEDGER_SCHEMA)
    with atomic_target(root / LEDGER) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def table_summary(state: HistoryState, table: str) -> dict[str, int]:
    """Return a table's totals: ``keys_<status>``, rows, and every request outcome."""
    cursors = state.cursors.get(table, {})
    totals: Counter[str] = Counter()
    for key, entry in state.ledger.get(table, {}).items():
        totals[f"keys_{key_status(cursors.get(key), entry)}"] += 1
        totals["rows"] += sum(c.rows for c in entry.dts.values())
        for name in entry.outcomes.__struct_fields__:
            totals[name] += getattr(entry.outcomes, name)
    return dict(totals)
