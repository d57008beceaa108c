"""Build small Hive snapshot archives with pyarrow, exactly in the production schema."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pmtape.core.snapshot import SNAPSHOT_COLUMNS

NAN = math.nan
LEVELS = pa.list_(pa.float64())
SCHEMA = pa.schema(
    [
        ("ts_recv", pa.int64()),
        ("venue", pa.string()),
        ("market_id", pa.string()),
        ("outcome_id", pa.string()),
        ("seq", pa.int64()),
        ("best_bid_px", pa.float64()),
        ("best_bid_sz", pa.float64()),
        ("best_ask_px", pa.float64()),
        ("best_ask_sz", pa.float64()),
        ("mid", pa.float64()),
        ("spread", pa.float64()),
        ("bid_px", LEVELS),
        ("bid_sz", LEVELS),
        ("ask_px", LEVELS),
        ("ask_sz", LEVELS),
        ("status", pa.string()),
        ("err", pa.string()),
        ("source_ts", pa.int64()),
    ]
)
assert tuple(SCHEMA.names) == SNAPSHOT_COLUMNS

Level = tuple[float, float]


def ms(text: str) -> int:
    """Epoch ms of an ISO UTC instant such as ``2024-05-01T10:00:00``."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def snap(
    ts_recv: int,
    market_id: str,
    *,
    venue: str = "v1",
    outcome_id: str = "yes",
    seq: int = 0,
    bids: list[Level] | None = None,
    asks: list[Level] | None = None,
    status: str = "ok",
) -> dict[str, Any]:
    """One snapshot row; bids descending, asks ascending, best/mid/spread derived."""
    bids = sorted(bids or [], reverse=True)
    asks = sorted(asks or [])
    bb_px, bb_sz = bids[0] if bids else (NAN, NAN)
    ba_px, ba_sz = asks[0] if asks else (NAN, NAN)
    both = bool(bids and asks)
    return {
        "ts_recv": ts_recv,
        "venue": venue,
        "market_id": market_id,
        "outcome_id": outcome_id,
        "seq": seq,
        "best_bid_px": bb_px,
        "best_bid_sz": bb_sz,
        "best_ask_px": ba_px,
        "best_ask_sz": ba_sz,
        "mid": (bb_px + ba_px) / 2 if both else NAN,
        "spread": ba_px - bb_px if both else NAN,
        "bid_px": [p for p, _ in bids],
        "bid_sz": [s for _, s in bids],
        "ask_px": [p for p, _ in asks],
        "ask_sz": [s for _, s in asks],
        "status": status,
        "err": None,
        "source_ts": None,
    }


def bucket_path(data_dir: Path, venue: str, ts_ms: int) -> Path:
    """Where the store puts the 5-minute bucket holding ``ts_ms``."""
    at = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    at = at.replace(minute=at.minute - at.minute % 5, second=0, microsecond=0)
    date, hour = at.strftime("%Y-%m-%d"), at.strftime("%H")
    name = f"snapshots_{date}T{hour}-{at.strftime('%M')}.parquet"
    return (
        data_dir / "orderbook_snapshots" / f"venue={venue}" / f"date={date}" / f"hour={hour}" / name
    )


def write_rows(data_dir: Path, rows: list[dict[str, Any]]) -> list[Path]:
    """Write rows into their venue/bucket files (one file per bucket); return the paths."""
    buckets: dict[Path, list[dict[str, Any]]] = {}
    for row in rows:
        buckets.setdefault(bucket_path(data_dir, row["venue"], row["ts_recv"]), []).append(row)
    for path, bucket in buckets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(bucket, schema=SCHEMA), path)
    return list(buckets)


def write_garbage(data_dir: Path, venue: str, ts_ms: int) -> Path:
    """Put a file that is not Parquet where the bucket of ``ts_ms`` would be."""
    path = bucket_path(data_dir, venue, ts_ms)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not parquet at all")
    return path
