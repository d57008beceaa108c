"""The coverage ledger on disk: one row per venue, instrument and interval (a minute).

``<data_dir>/coverage/venue=V/date=YYYY-MM-DD/coverage_HH-MM_<run_id>.parquet`` holds the rows
of one collector run for the ten minutes starting at HH:MM (UTC). Rows are sorted by
(ts, market_id, outcome_id); ``ts`` is the interval's start in epoch ms, so a question about one
minute is one filter (``ts = …``) over the whole directory. ``collect.coverage`` says what the
statuses and reasons mean.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from pmtape.store.atomic import atomic_target
from pmtape.store.layout import check_name

COVERAGE_DIR: Final = "coverage"
BLOCK_MS: Final = 600_000
"""Rows of ten minutes of one run go to one file."""

_DICT = pa.dictionary(pa.int32(), pa.string())
COVERAGE_SCHEMA: Final = pa.schema(
    [
        ("ts", pa.int64()),
        ("venue", _DICT),
        ("market_id", pa.string()),
        ("outcome_id", pa.string()),
        ("status", _DICT),
        ("reason", _DICT),
        ("rows", pa.int32()),
    ]
)
"""What ``collect.coverage.CoverageTracker`` builds; files add ``interval_s`` and ``run_id``."""
FILE_SCHEMA: Final = COVERAGE_SCHEMA.append(pa.field("interval_s", pa.float64())).append(
    pa.field("run_id", _DICT)
)
_PARTITIONS: Final = pa.schema([("venue", pa.string()), ("date", pa.string())])
READ_SCHEMA: Final = pa.schema(
    [f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in FILE_SCHEMA]
).append(pa.field("date", pa.string()))


def coverage_dir(data_dir: Path) -> Path:
    """Return the ledger's top directory."""
    return data_dir / COVERAGE_DIR


def coverage_path(data_dir: Path, venue: str, run_id: str, block_start_ms: int) -> Path:
    """Return the file of one run's ten-minute block of one venue."""
    start = datetime.fromtimestamp(block_start_ms / 1000, tz=UTC)
    date = start.strftime("%Y-%m-%d")
    name = f"coverage_{start:%H-%M}_{check_name('run id', run_id)}.parquet"
    return coverage_dir(data_dir) / f"venue={check_name('venue', venue)}" / f"date={date}" / name


def split_blocks(table: pa.Table) -> Iterator[tuple[int, pa.Table]]:
    """Yield (block start, rows) of ledger rows, in block order."""
    if not table.num_rows:
        return
    ts = table.column("ts")
    blocks = pc.subtract(ts, pc.call_function("remainder", [ts, BLOCK_MS]))
    for start in sorted(pc.unique(blocks).to_pylist()):
        yield start, table.filter(pc.equal(blocks, start))


def write_coverage(
    data_dir: Path, venue: str, run_id: str, interval_s: float, rows: pa.Table
) -> list[Path]:
    """Write ledger rows (one venue, one run) into their block files; return the files.

    A block file that exists already (a block written before a restart of the same run id)
    gets the new rows added; each file is replaced atomically.
    """
    written = []
    for start, part in split_blocks(rows):
        path = coverage_path(data_dir, venue, run_id, start)
        n = part.num_rows
        part = part.append_column(
            pa.field("interval_s", pa.float64()), pa.array([interval_s] * n, pa.float64())
        ).append_column(
            pa.field("run_id", _DICT), pa.array([run_id] * n, pa.string()).dictionary_encode()
        )
        part = part.cast(FILE_SCHEMA)
        if path.exists():
            part = pa.concat_tables([pq.read_table(path, schema=FILE_SCHEMA), part])
        part = part.sort_by(
            [("ts", "ascending"), ("market_id", "ascending"), ("outcome_id", "ascending")]
        )
        with atomic_target(path) as tmp:
            pq.write_table(part, tmp, compression="zstd", use_dictionary=True)
        written.append(path)
    return written


def read_coverage(
    data_dir: Path,
    venue: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> pa.Table:
    """Read ledger rows (``READ_SCHEMA``), optionally of one venue and a time range."""
    root = coverage_dir(data_dir)
    if not root.is_dir():
        return READ_SCHEMA.empty_table()
    partitioning = ds.partitioning(_PARTITIONS, flavor="hive")
    dataset = ds.dataset(root, format="parquet", partitioning=partitioning, schema=READ_SCHEMA)
    where = None
    for cond in (
        None if venue is None else ds.field("venue") == venue,
        None if since_ms is None else ds.field("ts") >= since_ms,
        None if until_ms is None else ds.field("ts") < until_ms,
    ):
        if cond is not None:
            where = cond if where is None else where & cond
    return dataset.to_table(filter=where)
