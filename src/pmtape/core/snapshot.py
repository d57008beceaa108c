"""SnapshotRow: one top-K book snapshot, exactly the archive's Parquet schema."""

from __future__ import annotations

import msgspec

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
