"""SnapshotRow: one top-K book snapshot, exactly the archive's Parquet schema."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from pmtape.core.fixed import SCALE

SNAPSHOT_COLUMNS: tuple[str, ...] = (
    "ts_recv",
    "venue",
    "market_id",
    "outcome_id",
    "seq",
    "best_bid_px",
    "best_bid_sz",
    "best_ask_px",
    "best_ask_sz",
    "mid",
    "spread",
    "bid_px",
    "bid_sz",
    "ask_px",
    "ask_sz",
    "status",
    "err",
    "source_ts",
)

AUDIT_ERR_PREFIX = "audit: "
"""How a row's ``err`` names the invariant audits it fails: ``audit: crossed,off_tick``.

Also the stale reason of a book whose venue sent levels no book can hold (a price outside
(0, 1), a negative size): those are refused, and the rows say which audit they would fail.
"""


def refused_reason(levels: Iterable[tuple[int, int]]) -> str | None:
    """Return the stale reason of a book refused for these (px e6, size e6) levels, if any.

    A price outside (0, 1) fails ``px_range``, a negative size ``size``: the row audits the
    levels would fail had they been kept. None: no level breaks either (refused for another
    reason, e.g. an unreadable number, which is only counted).
    """
    faults = set()
    for px, sz in levels:
        if not 0 < px < SCALE:
            faults.add("px_range")
        if sz < 0:
            faults.add("size")
    return AUDIT_ERR_PREFIX + ",".join(sorted(faults)) if faults else None


class SnapshotRow(msgspec.Struct, kw_only=True):
    """One row of ``orderbook_snapshots``; prices/sizes as doubles, NaN where a side is missing."""

    ts_recv: int
    venue: str
    market_id: str
    outcome_id: str
    seq: int
    best_bid_px: float
    best_bid_sz: float
    best_ask_px: float
    best_ask_sz: float
    mid: float
    spread: float
    bid_px: list[float]
    bid_sz: list[float]
    ask_px: list[float]
    ask_sz: list[float]
    status: str
    err: str | None = None
    source_ts: int | None = None
