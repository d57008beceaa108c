"""Every code block of README.md's "Reading the archive" section, run on an archive pmtape wrote.

The blocks are parsed out of the README each run, so the test follows the README as it changes.
Each block reads one table (it names ``orderbook_snapshots`` or ``trades``); its result (the
final expression of a Python block, else the last name it assigned; the query of a SQL block)
must hold exactly the archive's rows, or exactly its groups with aggregates that are a count,
sum, mean, min or max of a column of those groups. Every reader (Polars, DuckDB, pandas) must
have a recipe for both tables.
"""

from __future__ import annotations

import ast
import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from pmtape.store.files import read_table
from pmtape.store.parquet import ParquetSink, WriterSettings
from pmtape.store.rows import SnapshotBatch, TradeBatch
from tests.store.factories import make_book, utc_ms

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "### Reading the archive"
TABLE_DIRS = {"orderbook_snapshots": "snapshots", "trades": "trades"}
READERS = ("polars", "duckdb", "pandas")
KEYS = ("venue", "market_id", "outcome_id", "date", "hour", "status", "side")
# Two venues, two hours of one day: hour=00 (zero-padded) and hour=13.
STAMPS = [utc_ms("2024-05-01T00:01:00") + 1_000 * i for i in range(6)]
STAMPS += [utc_ms("2024-05-01T13:21:00") + 1_000 * i for i in range(6)]
VENUES = ("sim", "kalshi")

Row = dict[str, Any]


# -- the README ----------------------------------------------------------------------------------


def readme_blocks() -> list[tuple[str, str]]:
    """Return (language, code) of every python/sql fenced block of the section."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION) + len(SECTION)
    following = re.search(r"^#{1,3} ", text[start:], flags=re.MULTILINE)
    section = text[start : start + following.start()] if following else text[start:]
    fences = re.finditer(r"^```(\w+)\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    return [(m.group(1), m.group(2)) for m in fences if m.group(1) in ("python", "sql")]


def reader_of(language: str, code: str) -> str:
    if language == "sql" or "import duckdb" in code:
        return "duckdb"
    for reader in ("polars", "pandas"):
        if f"import {reader}" in code:
            return reader
    raise AssertionError(f"cannot tell which reader this README block uses:\n{code}")


def table_of(code: str) -> str:
    named = {kind for directory, kind in TABLE_DIRS.items() if f"data/{directory}" in code}
    assert len(named) == 1, f"a README recipe should read exactly one table:\n{code}"
    return named.pop()


def with_data_dir(code: str, data_dir: Path) -> str:
    return re.sub(r"""(["'])data/""", lambda m: f"{m.group(1)}{data_dir.as_posix()}/", code)


def run_python(code: str) -> Any:
    """Run ``code``; return its final expression's value, else the last name it assigned."""
    tree = ast.parse(code)
    namespace: dict[str, Any] = {}
    last = tree.body[-1]
    if isinstance(last, ast.Expr):
        exec(compile(ast.Module(tree.body[:-1], []), "<README>", "exec"), namespace)
        return eval(compile(ast.Expression(last.value), "<README>", "eval"), namespace)
    exec(compile(tree, "<README>", "exec"), namespace)
    assigned = [
        t.id
        for s in tree.body
        if isinstance(s, ast.Assign)
        for t in s.targets
        if isinstance(t, ast.Name)
    ]
    assert assigned, f"the recipe gives no result:\n{code}"
    return namespace[assigned[-1]]


def run_sql(code: str) -> duckdb.DuckDBPyRelation:
    relation = duckdb.connect().sql(code)
    assert relation is not None, f"query gives no rows:\n{code}"
    return relation


def records(result: Any) -> list[Row]:
    """Return a recipe's result as rows of plain Python values."""
    if isinstance(result, pl.LazyFrame):
        result = result.collect()
    if isinstance(result, pl.DataFrame):
        return result.to_dicts()
    if isinstance(result, pd.DataFrame):
        plain = result.astype({c: object for c in result.columns if result[c].dtype == "category"})
        return [dict(zip(plain.columns, row, strict=True)) for row in plain.itertuples(index=False)]
    if isinstance(result, duckdb.DuckDBPyRelation):
        return [dict(zip(result.columns, row, strict=True)) for row in result.fetchall()]
    raise AssertionError(f"unexpected recipe result {type(result).__name__}")


# -- the archive ---------------------------------------------------------------------------------


def write_archive(data_dir: Path) -> None:
    """Write snapshots and trades of two venues over two hours through pmtape's writer."""
    sink = ParquetSink(data_dir, WriterSettings(flush_s=3600.0, flush_rows=1_000_000)).start()
    try:
        for v, venue in enumerate(VENUES):
            snaps, trades = SnapshotBatch(), TradeBatch()
            for i, ts in enumerate(STAMPS):
                market = f"{venue}-m{i % 3}"
                for o, outcome in enumerate(("yes", "no")):
                    book = make_book(
                        [(0.40 + o / 10 - j / 100, 10 + i + j) for j in range(3)],
                        [(0.42 + o / 10 + (i + v) / 100 + j / 100, 5 + j) for j in range(3)],
                        ts_ms=ts,
                    )
                    book.seq = i
                    # The stale rows keep their levels: a recipe filtering on status differs.
                    stale_after = 0 if i % 4 == 3 else None
                    snaps.append_book(ts, venue, market, outcome, book, ts + 1, stale_after)
                px = 500_000 + 10_000 * i
                trades.append(ts, venue, market, "yes", i, px, 1_000_000 * (i + 1), "buy", f"t{i}")
            sink.submit("snapshots", venue, snaps)
            sink.submit("trades", venue, trades)
    finally:
        sink.close()
    assert sink.stats()["errors"] == 0


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("readme") / "data"
    write_archive(data_dir)
    return data_dir


@pytest.fixture(scope="module")
def reference(archive: Path) -> dict[str, list[Row]]:
    """The rows of each table as pmtape's own reader returns them."""
    tables = {kind: read_table(archive, kind) for kind in TABLE_DIRS.values()}
    assert tables["snapshots"].num_rows == len(VENUES) * len(STAMPS) * 2
    assert tables["trades"].num_rows == len(VENUES) * len(STAMPS)
    assert set(tables["snapshots"].column("status").to_pylist()) == {"ok", "stale"}
    return {kind: table.to_pylist() for kind, table in tables.items()}


# -- comparing -----------------------------------------------------------------------------------


def key_value(name: str, value: Any) -> Any:
    """Return a partition or id value in one form whatever the reader typed it as."""
    if name == "hour":
        return int(value)
    if name == "date":
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    return value


def numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "count": len,
    "sum": math.fsum,
    "mean": lambda v: math.fsum(v) / len(v),
    "min": min,
    "max": max,
}


def check_full_read(rows: list[Row], expected: list[Row]) -> None:
    columns = set(rows[0])
    assert set(expected[0]) <= columns, f"missing columns: {set(expected[0]) - columns}"

    def identity(row: Row) -> tuple[Any, ...]:
        return tuple(key_value(k, row[k]) for k in ("venue", "market_id", "outcome_id", "date"))

    def full(row: Row) -> tuple[Any, ...]:
        return (*identity(row), key_value("hour", row["hour"]), row["ts_recv"], row["seq"])

    assert sorted(map(full, rows)) == sorted(map(full, expected))


def check_aggregate(rows: list[Row], expected: list[Row]) -> None:
    keys = [k for k in rows[0] if k in KEYS]
    values = [c for c in rows[0] if c not in KEYS]
    assert keys, f"an aggregate without group keys: {list(rows[0])}"
    assert values, f"a result without values: {list(rows[0])}"
    # Groups of every row, and of the rows a status filter would keep.
    subsets = {"all": expected, "ok": [r for r in expected if r.get("status", "ok") == "ok"]}
    groups: dict[str, dict[tuple[Any, ...], list[Row]]] = {}
    for name, subset in subsets.items():
        groups[name] = defaultdict(list)
        for row in subset:
            groups[name][tuple(key_value(k, row[k]) for k in keys)].append(row)
    got = {tuple(key_value(k, row[k]) for k in keys): row for row in rows}
    assert len(got) == len(rows), "a group appears twice"
    assert set(got) in ({*groups["all"]}, {*groups["ok"]}), f"groups by {keys} differ"
    sources = [c for c in expected[0] if numeric(expected[0][c])]
    for column in values:
        assert any(
            _matches(got, groups[subset], column, source, fn)
            for subset in subsets
            for source in sources
            for fn in AGGREGATES.values()
        ), f"{column!r} is no count/sum/mean/min/max of a column per group"


def _matches(
    got: dict[tuple[Any, ...], Row],
    groups: dict[tuple[Any, ...], list[Row]],
    column: str,
    source: str,
    fn: Callable[[list[float]], float],
) -> bool:
    if set(got) != set(groups):
        return False
    for key, row in got.items():
        value = row[column]
        want = fn([r[source] for r in groups[key]])
        if not numeric(value) or not math.isclose(value, want, rel_tol=1e-9, abs_tol=1e-12):
            return False
    return True


# -- the tests -----------------------------------------------------------------------------------


def test_the_section_has_a_recipe_for_each_reader_and_table() -> None:
    blocks = readme_blocks()
    covered = {(reader_of(lang, code), table_of(code)) for lang, code in blocks}
    assert covered == {(r, t) for r in READERS for t in TABLE_DIRS.values()}


@pytest.mark.parametrize(
    ("language", "code"),
    readme_blocks(),
    ids=[f"{reader_of(lang, c)}-{table_of(c)}" for lang, c in readme_blocks()],
)
def test_readme_recipe(
    language: str, code: str, archive: Path, reference: dict[str, list[Row]]
) -> None:
    runnable = with_data_dir(code, archive)
    assert runnable != code, "the recipe does not read under data/"
    result = run_python(runnable) if language == "python" else run_sql(runnable)
    rows = records(result)
    expected = reference[table_of(code)]
    assert rows, "the recipe returned no rows"
    venues = {row["venue"] for row in rows if "venue" in row}
    assert venues == set(VENUES), f"venue holds {venues}, not the venues' names"
    if len(rows) == len(expected) and {"ts_recv", "seq"} <= set(rows[0]):
        check_full_read(rows, expected)
    else:
        check_aggregate(rows, expected)


# What the README says each reader makes of the venue/date/hour columns.


@pytest.mark.parametrize("directory", list(TABLE_DIRS))
def test_pandas_reads_partitions_as_categories(archive: Path, directory: str) -> None:
    frame = pd.read_parquet(archive / directory, engine="pyarrow")
    for name in ("venue", "date", "hour"):
        assert isinstance(frame[name].dtype, pd.CategoricalDtype), name
    assert sorted(frame["venue"].cat.categories) == sorted(VENUES)
    assert list(frame["date"].cat.categories) == ["2024-05-01"]
    assert sorted(frame["hour"].cat.categories) == [0, 13]


@pytest.mark.parametrize("directory", list(TABLE_DIRS))
def test_polars_reads_date_as_date_and_hour_as_int64(archive: Path, directory: str) -> None:
    glob = str(archive / directory / "**" / "*.parquet")
    frame = pl.scan_parquet(glob, hive_partitioning=True).collect()
    assert frame.schema["date"] == pl.Date
    assert frame.schema["hour"] == pl.Int64
    assert frame.schema["venue"] == pl.Categorical
    assert sorted(frame["hour"].unique().to_list()) == [0, 13]
    assert frame["date"].unique().to_list() == [dt.date(2024, 5, 1)]
    assert sorted(frame["venue"].cast(pl.String).unique().to_list()) == sorted(VENUES)


def _duckdb_types(glob: str, options: str = "") -> dict[str, str]:
    relation = duckdb.connect().sql(
        f"SELECT venue, date, hour FROM read_parquet('{glob}', hive_partitioning = true{options})"
    )
    return dict(zip(relation.columns, map(str, relation.types), strict=True))


def test_duckdb_guesses_hour_from_the_folders_it_finds(archive: Path) -> None:
    both_hours = str(archive / "orderbook_snapshots" / "**" / "*.parquet")
    afternoon = str(archive / "orderbook_snapshots" / "*" / "*" / "hour=13" / "*.parquet")
    assert _duckdb_types(both_hours) == {"venue": "VARCHAR", "date": "DATE", "hour": "VARCHAR"}
    assert _duckdb_types(afternoon)["hour"] == "BIGINT"
    pinned = ", hive_types = {'hour': INTEGER}"
    assert _duckdb_types(both_hours, pinned)["hour"] == "INTEGER"


def test_pmtape_reader_gives_plain_strings(archive: Path) -> None:
    for kind in TABLE_DIRS.values():
        schema = read_table(archive, kind).schema
        for name in ("venue", "date", "hour"):
            assert schema.field(name).type == pa.string(), (kind, name)
