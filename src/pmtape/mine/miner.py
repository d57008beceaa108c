"""Mine the snapshot archive: per-instrument depth, spread and activity, and the stats cache.

Definitions (per venue, market_id, outcome_id, over snapshots with ``start_ms <= ts_recv <
end_ms``):

* ``avg_depth3`` — mean over snapshots of (sum of the top-3 bid sizes + sum of the top-3 ask
  sizes), from the list columns. Rows with status ``stale`` are left out (their book may be
  wrong); ``empty`` and ``partial`` rows count, they are real observations of thin books.
* ``avg_spread`` — mean ``spread`` over rows with status ``ok`` (a missing status counts as
  ok) whose spread is finite; null when there is none.
* ``update_count`` — snapshots whose book changed since the previous snapshot of the same
  instrument (ordered by ts_recv, then seq): ``seq`` differs, or any of best bid/ask price/size
  differs. ``seq`` catches any applied event; top of book covers feeds that leave seq at 0.
  The first snapshot in the range has no predecessor and never counts.
* ``score`` — within each venue, the mean of three percentile ranks in (0, 1]: depth (deeper
  is better), spread (tighter is better) and update share (``update_count / (snapshots - 1)``,
  the share of snapshot intervals that saw a change). A missing metric contributes 0. The
  share, not the raw count, is used so that HOT instruments, sampled more often, do not keep
  their place merely because they were watched more.

A file in the range that cannot be read (not Parquet, truncated, empty, or with a column of
the wrong type) is skipped and listed in ``MineResult.skipped``; the run goes on without it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

from pmtape.core.clock import iso_utc, utc_date
from pmtape.core.errors import StoreError, UsageError
from pmtape.store.atomic import atomic_target
from pmtape.store.layout import SNAPSHOTS, table_dir
from pmtape.store.stats import STATS_COLUMNS, stats_path

_log = logging.getLogger(__name__)

_KEYS = ["venue", "market_id", "outcome_id"]
_PARTITIONS = {"venue": pl.String, "date": pl.String, "hour": pl.String}
# Pinned file schema: Polars would otherwise read the first file found to learn it, which
# fails on one corrupt file even outside the range. Missing optional columns become null.
_FILE_SCHEMA: dict[str, Any] = {
    "ts_recv": pl.Int64,
    "venue": pl.String,
    "market_id": pl.String,
    "outcome_id": pl.String,
    "seq": pl.Int64,
    "best_bid_px": pl.Float64,
    "best_bid_sz": pl.Float64,
    "best_ask_px": pl.Float64,
    "best_ask_sz": pl.Float64,
    "mid": pl.Float64,
    "spread": pl.Float64,
    "bid_px": pl.List(pl.Float64),
    "bid_sz": pl.List(pl.Float64),
    "ask_px": pl.List(pl.Float64),
    "ask_sz": pl.List(pl.Float64),
    "status": pl.String,
    "err": pl.String,
    "source_ts": pl.Int64,
}
_TOP = ("best_bid_px", "best_bid_sz", "best_ask_px", "best_ask_sz")
_REQUIRED = ("ts_recv", "market_id", "outcome_id")
_DATE_HOUR_DIRS = re.compile(r"^date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})$")


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A snapshot file in the range that could not be read, and why."""

    path: Path
    reason: str


class InstrumentStats(msgspec.Struct, frozen=True, kw_only=True):
    """One instrument's mined figures: one row of the stats cache."""

    venue: str
    market_id: str
    outcome_id: str
    instrument_key: str
    avg_depth3: float | None
    avg_spread: float | None
    update_count: int
    snapshots: int
    score: float
    first_ts: int
    last_ts: int


@dataclass(frozen=True, slots=True)
class MineResult:
    """What a mining run found: the three rankings, totals and the stats files written."""

    venue: str | None
    start_ms: int
    end_ms: int
    instruments: int
    snapshots: int
    top_depth: list[InstrumentStats]
    top_spread: list[InstrumentStats]
    top_updates: list[InstrumentStats]
    stats_paths: dict[str, Path]
    stats: pl.DataFrame = field(repr=False)
    skipped: tuple[SkippedFile, ...] = ()

    @property
    def stats_path(self) -> Path | None:
        """The stats file written, when exactly one venue was mined."""
        paths = list(self.stats_paths.values())
        return paths[0] if len(paths) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready builtins (without the full stats table)."""
        return {
            "venue": self.venue,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "instruments": self.instruments,
            "snapshots": self.snapshots,
            "top_depth": msgspec.to_builtins(self.top_depth),
            "top_spread": msgspec.to_builtins(self.top_spread),
            "top_updates": msgspec.to_builtins(self.top_updates),
            "stats_paths": {venue: str(path) for venue, path in self.stats_paths.items()},
            "skipped": [{"path": str(f.path), "reason": f.reason} for f in self.skipped],
        }


def mine(data_dir: Path, venue: str | None, start_ms: int, end_ms: int, top_n: int) -> MineResult:
    """Mine snapshots in ``[start_ms, end_ms)``, write each venue's stats cache, rank."""
    if end_ms <= start_ms:
        raise UsageError(f"empty range: end {iso_utc(end_ms)} is not after {iso_utc(start_ms)}")
    if top_n < 1:
        raise UsageError(f"top_n must be at least 1, got {top_n}")
    files = _files_in_range(data_dir, venue, start_ms, end_ms)
    skipped = [SkippedFile(path, why) for path in files if (why := _unreadable(path)) is not None]
    good = [path for path in files if path not in {f.path for f in skipped}]
    stats, late = _mine_files(good, venue, start_ms, end_ms)
    skipped += late
    if stats is None or stats.height == 0:
        empty = f"no snapshots between {iso_utc(start_ms)} and {iso_utc(end_ms)}"
        if skipped:  # there was data, but none of it could be read: a failure, not a usage slip
            raise StoreError(f"{empty}: {skipped_summary(skipped)}")
        raise UsageError(empty)
    paths = write_stats(data_dir, stats, utc_date(end_ms - 1))
    return MineResult(
        venue=venue,
        start_ms=start_ms,
        end_ms=end_ms,
        instruments=stats.height,
        snapshots=int(stats["snapshots"].sum()),
        top_depth=_top(stats, "avg_depth3", descending=True, n=top_n),
        top_spread=_top(stats, "avg_spread", descending=False, n=top_n),
        top_updates=_top(stats, "update_count", descending=True, n=top_n),
        stats_paths=paths,
        stats=stats,
        skipped=tuple(skipped),
    )


def skipped_summary(skipped: list[SkippedFile] | tuple[SkippedFile, ...]) -> str:
    """Return one line naming the files a run skipped and why."""
    noun = "file" if len(skipped) == 1 else "files"
    listed = ", ".join(f"{f.path} ({f.reason})" for f in skipped)
    return f"skipped {len(skipped)} unreadable {noun}: {listed}"


def _files_in_range(data_dir: Path, venue: str | None, start_ms: int, end_ms: int) -> list[Path]:
    # Pruning by the date/hour directories happens here, by name: out-of-range files are
    # never opened, so damage outside the range cannot stop a run.
    root = table_dir(data_dir, SNAPSHOTS)
    d0, h0 = _date_hour(start_ms)
    d1, h1 = _date_hour(end_ms - 1)
    files = []
    for path in root.glob(f"venue={venue or '*'}/date=*/hour=*/*.parquet"):
        match = _DATE_HOUR_DIRS.match(f"{path.parent.parent.name}/{path.parent.name}")
        if match is None or path.name.startswith((".", "_")) or not path.is_file():
            continue
        if (d0, h0) <= (match.group(1), match.group(2)) <= (d1, h1):
            files.append(path)
    if not files:
        raise UsageError(f"no snapshots between {iso_utc(start_ms)} and {iso_utc(end_ms)}")
    return sorted(files)


def _unreadable(path: Path) -> str | None:
    """Return why a snapshot file cannot be mined (from its footer alone), or None."""
    try:
        if path.stat().st_size == 0:
            return "empty file"
        schema = pl.read_parquet_schema(path)
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    except pl.exceptions.PolarsError:
        return "not a Parquet file, or truncated"
    for name in _REQUIRED:
        if name not in schema:
            return f"wrong schema: no {name} column"
    for name, dtype in schema.items():
        want = _FILE_SCHEMA.get(name)
        if want is not None and dtype != want and not _reads_as(dtype, want):
            return f"wrong schema: {name} is {dtype}, expected {want}"
    return None


def _reads_as(dtype: Any, want: Any) -> bool:
    # The store writes venue as a dictionary column (pyarrow's type for venue=V folders);
    # it reads as a string.
    return bool(want == pl.String and isinstance(dtype, pl.Categorical | pl.Enum))


def _mine_files(
    files: list[Path], venue: str | None, start_ms: int, end_ms: int
) -> tuple[pl.DataFrame | None, list[SkippedFile]]:
    """Compute the stats of ``files``; a file whose data pages fail is found and left out."""
    if not files:
        return None, []
    try:
        return _score(_instrument_stats(_scan(files, venue, start_ms, end_ms))).collect(), []
    except (pl.exceptions.PolarsError, OSError):
        pass  # a footer that reads well over damaged pages: find the file(s), once
    bad = [SkippedFile(path, "corrupt data") for path in files if not _reads_whole(path)]
    good = [path for path in files if path not in {f.path for f in bad}]
    if not bad or not good:
        return None, bad
    return _collect(_score(_instrument_stats(_scan(good, venue, start_ms, end_ms)))), bad


def _reads_whole(path: Path) -> bool:
    try:
        pl.scan_parquet(
            path, schema=_FILE_SCHEMA, missing_columns="insert", extra_columns="ignore"
        ).collect()
    except (pl.exceptions.PolarsError, OSError):
        return False
    return True


def _scan(files: list[Path], venue: str | None, start_ms: int, end_ms: int) -> pl.LazyFrame:
    frame = pl.scan_parquet(
        [str(path) for path in files],
        hive_partitioning=True,
        hive_schema=_PARTITIONS,
        schema=_FILE_SCHEMA,
        missing_columns="insert",
        extra_columns="ignore",
    )
    # The files are already pruned by name; the ts_recv filter trims the edge hours.
    frame = frame.filter(partition_filter(start_ms, end_ms))
    if venue is not None:
        frame = frame.filter(pl.col("venue") == venue)
    return frame.filter(pl.col("ts_recv").is_between(start_ms, end_ms, closed="left"))


def partition_filter(start_ms: int, end_ms: int) -> pl.Expr:
    """Return a predicate on the date/hour partition columns covering ``[start_ms, end_ms)``."""
    d0, h0 = _date_hour(start_ms)
    d1, h1 = _date_hour(end_ms - 1)
    date, hour = pl.col("date"), pl.col("hour")
    if d0 == d1:
        return (date == d0) & (hour >= h0) & (hour <= h1)
    first = (date == d0) & (hour >= h0)
    middle = (date > d0) & (date < d1)
    last = (date == d1) & (hour <= h1)
    return first | middle | last


def _date_hour(ms: int) -> tuple[str, str]:
    stamp = iso_utc(ms)
    return stamp[:10], stamp[11:13]


def _instrument_stats(rows: pl.LazyFrame) -> pl.LazyFrame:
    status = pl.col("status").fill_null("ok")
    depth = pl.col("bid_sz").list.head(3).list.sum() + pl.col("ask_sz").list.head(3).list.sum()
    spread = pl.col("spread")
    return rows.group_by(_KEYS).agg(
        # + 0.0 turns the -0.0 that Polars sums empty lists to into a plain 0.0.
        (depth.filter(status != "stale").mean() + 0.0).alias("avg_depth3"),
        spread.filter((status == "ok") & spread.is_finite()).mean().alias("avg_spread"),
        _changed().sum().cast(pl.Int64).alias("update_count"),
        pl.len().cast(pl.Int64).alias("snapshots"),
        pl.col("ts_recv").min().alias("first_ts"),
        pl.col("ts_recv").max().alias("last_ts"),
    )


def _changed() -> pl.Expr:
    order = ["ts_recv", "seq"]
    changed = pl.lit(value=False)
    for name in ("seq", *_TOP):
        col = pl.col(name).sort_by(order)
        changed = changed | col.ne_missing(col.shift(1))
    return changed & (pl.int_range(pl.len()) > 0)


def _score(stats: pl.LazyFrame) -> pl.LazyFrame:
    share = pl.col("update_count") / (pl.col("snapshots") - 1).clip(lower_bound=1)
    ranks = [
        _pct_rank(pl.col("avg_depth3")),
        _pct_rank(-pl.col("avg_spread")),
        _pct_rank(share),
    ]
    key = pl.concat_str(_KEYS, separator=":").alias("instrument_key")
    score = (pl.sum_horizontal(ranks) / len(ranks)).alias("score")
    return stats.with_columns(key, score).select(STATS_COLUMNS).sort("venue", "instrument_key")


def _pct_rank(expr: pl.Expr) -> pl.Expr:
    return (expr.rank("average").over("venue") / pl.len().over("venue")).fill_null(0.0)


def _collect(frame: pl.LazyFrame) -> pl.DataFrame:
    try:
        return frame.collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        plain = first.encode("ascii", "backslashreplace").decode()
        raise StoreError(f"cannot read the snapshot archive: {plain}") from exc


def _top(stats: pl.DataFrame, column: str, *, descending: bool, n: int) -> list[InstrumentStats]:
    ranked = stats.filter(pl.col(column).is_not_null()).sort(
        [column, "instrument_key"], descending=[descending, False]
    )
    return [InstrumentStats(**row) for row in ranked.head(n).iter_rows(named=True)]


def write_stats(data_dir: Path, stats: pl.DataFrame, date: str) -> dict[str, Path]:
    """Write one stats cache file per venue in ``stats`` atomically; return their paths."""
    paths: dict[str, Path] = {}
    for venue in sorted(stats["venue"].unique().to_list()):
        path = stats_path(data_dir, venue, date)
        _write_atomic(stats.filter(pl.col("venue") == venue), path)
        paths[venue] = path
        _log.debug("stats cache written: %s", path)  # the caller prints it
    return paths


def _write_atomic(frame: pl.DataFrame, path: Path) -> None:
    try:
        with atomic_target(path) as tmp:
            frame.write_parquet(tmp, compression="zstd")
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc}") from exc
