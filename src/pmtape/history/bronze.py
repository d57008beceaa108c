"""Bronze files of the backfill: typed Parquet parts per table and landing day, atomically.

``history/<table>/dt=YYYY-MM-DD/part-NNNNNNNN.parquet`` (zstd, one schema per table, ``dt``
a Hive partition, not a column). ``dt`` is the UTC day the rows landed (were stored), not
the day they happened: a feed walks years newest first, and splitting each flush by trade
day would scatter it into hundreds of tiny files. The ledger counts rows per trade day; the
warehouse partitions facts by trade time.

``history/MANIFEST.sha256`` lists every committed part in GNU ``sha256sum -c`` format (two
spaces, path relative to ``history/``). A part is on disk before the cursor that covers
it is committed (``state.CursorStore``); a part the cursor does not list was written by a
run that died before committing, and is removed.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from pmtape.store.atomic import atomic_target, atomic_write_bytes

MANIFEST = "MANIFEST.sha256"
CURSOR = "cursor.json"
LEDGER = "ledger.parquet"
TRADES = "trades"
PRICES = "prices"
ZSTD_LEVEL = 1
"""Level 1: a third faster to write than 3 on trade rows and within 5% of its size (bench)."""
DAY_S = 86_400

TRADES_SCHEMA = pa.schema(
    [
        ("ts_s", pa.int64()),
        ("condition_id", pa.string()),
        ("token_id", pa.string()),
        ("side", pa.string()),
        ("price_e6", pa.int64()),
        ("size_e6", pa.int64()),
        ("outcome", pa.string()),
        ("outcome_index", pa.int32()),
        ("proxy_wallet", pa.string()),
        ("transaction_hash", pa.string()),
        ("name", pa.string()),
    ]
)
"""Bronze ``trades``: one row per fill; ``ts_s`` block time in epoch seconds, e6 integers."""
PRICES_SCHEMA = pa.schema(
    [
        ("token_id", pa.string()),
        ("condition_id", pa.string()),
        ("ts_s", pa.int64()),
        ("price_e6", pa.int64()),
        ("fidelity_min", pa.int32()),
        ("window_start_s", pa.int64()),
        ("window_end_s", pa.int64()),
    ]
)
"""Bronze ``prices``: one row per token and bucket time; the fidelity the venue answered at
and the request window it came from."""
SCHEMAS: dict[str, pa.Schema] = {TRADES: TRADES_SCHEMA, PRICES: PRICES_SCHEMA}
TS_FIELD = {TRADES: "ts_s", PRICES: "ts_s"}
DICTIONARY: dict[str, list[str]] = {
    TRADES: ["condition_id", "token_id", "side", "outcome", "name"],
    PRICES: ["token_id", "condition_id"],
}
"""Columns worth dictionary-encoding (few distinct values); hashes and wallets are not."""


def dt_of(ts_s: int) -> str:
    """Return the UTC day (``YYYY-MM-DD``) of an epoch-second time."""
    return datetime.fromtimestamp(ts_s - ts_s % DAY_S, tz=UTC).strftime("%Y-%m-%d")


def split_by_dt(table: str, rows: Sequence[Any]) -> dict[str, list[Any]]:
    """Group rows by the UTC day of their time field."""
    get_ts = attrgetter(TS_FIELD[table])
    out: dict[str, list[Any]] = defaultdict(list)
    day_of: dict[int, str] = {}
    for row in rows:
        day = get_ts(row) // DAY_S
        dt = day_of.get(day)
        if dt is None:
            dt = day_of[day] = dt_of(day * DAY_S)
        out[dt].append(row)
    return out


def to_arrow(table: str, rows: Sequence[Any]) -> pa.Table:
    """Return rows (structs named like the schema's fields) as a typed Arrow table."""
    schema = SCHEMAS[table]
    columns = [pa.array(list(map(attrgetter(f.name), rows)), type=f.type) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def part_path(table: str, dt: str, seq: int) -> str:
    """Return a part's path relative to ``history/``."""
    return f"{table}/dt={dt}/part-{seq:08d}.parquet"


def write_part(root: Path, table: str, rel: str, data: pa.Table) -> str:
    """Write one part atomically (fsync + rename); return its sha256 hex digest."""
    path = root / rel
    with atomic_target(path) as tmp:
        pq.write_table(
            data,
            tmp,
            compression="zstd",
            compression_level=ZSTD_LEVEL,
            use_dictionary=DICTIONARY[table],
        )
        digest = _sha256(tmp)
    return digest


def write_manifest(root: Path, parts: Mapping[str, str]) -> None:
    """Replace ``MANIFEST.sha256`` with every committed part, sorted by path."""
    text = "".join(f"{digest}  {rel}\n" for rel, digest in sorted(parts.items()))
    atomic_write_bytes(root / MANIFEST, text.encode())


def remove_uncommitted(root: Path, committed: Iterable[str]) -> list[str]:
    """Delete part files no committed cursor lists (a run died between write and commit)."""
    keep = set(committed)
    removed = []
    for table in SCHEMAS:
        for path in sorted((root / table).glob("dt=*/*.parquet")):
            rel = path.relative_to(root).as_posix()
            if rel not in keep:
                path.unlink()
                removed.append(rel)
    return removed


def read_table(root: Path, table: str) -> pa.Table:
    """Read every committed part of a table (``dt`` as a partition column)."""
    base = root / table
    if not base.exists():
        return SCHEMAS[table].empty_table()
    dataset = ds.dataset(base, format="parquet", partitioning="hive")
    return dataset.to_table()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
