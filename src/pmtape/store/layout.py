"""Where archive tables live on disk: Hive directories, time buckets and file parts.

``<data_dir>/orderbook_snapshots/venue=V/date=YYYY-MM-DD/hour=HH/snapshots_YYYY-MM-DDTHH-mm.parquet``
(UTC; HH-mm is the bucket start). A bucket holding more than one file adds parts ``_1``, ``_2``, …;
a writer with a shard id puts it in the name (``…THH-mm-s0.parquet``) so that writers never share a
file. ``date`` and ``hour`` live only in the path; ``venue`` is both the first folder and a column
of every file (dictionary-encoded so that readers merging the two see one type, see
``pmtape.store.rows``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

import pyarrow as pa

from pmtape.core.clock import utc_date
from pmtape.core.errors import StoreError
from pmtape.store.rows import SNAPSHOT_SCHEMA, TRADE_SCHEMA

TableKind = Literal["snapshots", "trades"]
SNAPSHOTS: Final = "snapshots"
TRADES: Final = "trades"

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# No "_" in a shard id: "_<n>" is the part suffix.
_SAFE_SHARD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")


@dataclass(frozen=True)
class TableSpec:
    """A table's top directory, file prefix and schema."""

    directory: str
    prefix: str
    schema: pa.Schema

    @property
    def read_schema(self) -> pa.Schema:
        """The schema pmtape's readers return: the file schema, dictionary columns as plain."""
        fields = [
            f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f
            for f in self.schema
        ]
        return pa.schema(fields)


TABLES: Final[dict[str, TableSpec]] = {
    SNAPSHOTS: TableSpec("orderbook_snapshots", "snapshots", SNAPSHOT_SCHEMA),
    TRADES: TableSpec("trades", "trades", TRADE_SCHEMA),
}

PARTITION_SCHEMA: Final = pa.schema(
    [("venue", pa.string()), ("date", pa.string()), ("hour", pa.string())]
)


def table_spec(table: str) -> TableSpec:
    """Return the spec of ``table`` ("snapshots" or "trades")."""
    try:
        return TABLES[table]
    except KeyError:
        raise StoreError(f"unknown table {table!r}; expected one of {sorted(TABLES)}") from None


def check_name(kind: str, value: str) -> str:
    """Return ``value`` if it is safe as one path component, else raise StoreError."""
    pattern = _SAFE_SHARD if kind == "shard" else _SAFE_NAME
    if not pattern.match(value) or ".." in value:
        raise StoreError(f"{kind} {value!r} is not usable in a file name")
    return value


def bucket_start_ms(ts_ms: int, bucket_minutes: int) -> int:
    """Return the start (epoch ms) of the ``bucket_minutes`` bucket holding ``ts_ms``."""
    width = bucket_minutes * 60_000
    return ts_ms - ts_ms % width


def snapshot_path(
    data_dir: Path,
    table: str,
    venue: str,
    bucket_start_ms: int,
    *,
    part: int = 0,
    shard: str | None = None,
) -> Path:
    """Return the file of one bucket (part 0 is the plain layout name) of ``table``."""
    spec = table_spec(table)
    start = datetime.fromtimestamp(bucket_start_ms / 1000, tz=UTC)
    date = start.strftime("%Y-%m-%d")
    stem = f"{spec.prefix}_{date}T{start:%H-%M}"
    if shard is not None:
        stem += f"-{check_name('shard', shard)}"
    if part:
        stem += f"_{part}"
    directory = data_dir / spec.directory / f"venue={check_name('venue', venue)}"
    return directory / f"date={date}" / f"hour={start:%H}" / f"{stem}.parquet"


def list_parts(base: Path) -> list[tuple[int, Path]]:
    """Return the existing parts of the bucket whose part-0 file is ``base``, in part order."""
    pattern = re.compile(rf"^{re.escape(base.stem)}(?:_(\d+))?\.parquet$")
    try:
        names = os.listdir(base.parent)
    except FileNotFoundError:
        return []
    parts = []
    for name in names:
        match = pattern.match(name)
        if match is not None:
            parts.append((int(match.group(1) or 0), base.parent / name))
    return sorted(parts)


def part_path(base: Path, part: int) -> Path:
    """Return part ``part`` of the bucket whose part-0 file is ``base``."""
    return base if part == 0 else base.with_name(f"{base.stem}_{part}.parquet")


def universe_path(data_dir: Path, venue: str, ts_ms: int) -> Path:
    """Return metadata/venue=V/date=D/universe.jsonl."""
    return data_dir / "metadata" / f"venue={venue}" / f"date={utc_date(ts_ms)}" / "universe.jsonl"


def markets_log_path(data_dir: Path, venue: str, ts_ms: int) -> Path:
    """Return markets/venue=V/date=D/markets_HH.jsonl."""
    hour = (ts_ms // 3_600_000) % 24
    day = f"date={utc_date(ts_ms)}"
    return data_dir / "markets" / f"venue={venue}" / day / f"markets_{hour:02d}.jsonl"


def captures_dir(data_dir: Path) -> Path:
    """Return captures/, where each collector run keeps its run bundle (RUN_ID/)."""
    return data_dir / "captures"


def rebuild_dir(data_dir: Path, run_id: str) -> Path:
    """Return rebuild/RUN_ID/, where ``pmtape rebuild`` writes by default."""
    return data_dir / "rebuild" / run_id


def table_dir(data_dir: Path, table: str) -> Path:
    """Return the top directory of an archive table (``snapshots`` or ``trades``)."""
    return data_dir / table_spec(table).directory


def lifecycle_log_path(data_dir: Path, venue: str, ts_ms: int) -> Path:
    """Return state/venue=V/lifecycle/date=D.jsonl: markets the stream announced that day."""
    return data_dir / "state" / f"venue={venue}" / "lifecycle" / f"date={utc_date(ts_ms)}.jsonl"
