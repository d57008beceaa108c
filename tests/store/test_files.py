from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pmtape.store.files import SORT_KEYS, read_snapshots, sort_rows, write_bucket
from pmtape.store.layout import bucket_start_ms, part_path, snapshot_path
from pmtape.store.rows import SNAPSHOT_SCHEMA, VENUE_TYPE
from tests.store.factories import snapshot_table, trade_batch, utc_ms

T0 = utc_ms("2024-06-01T23:55:00")


def _write(data_dir: Path, table: pa.Table, flush_rows: int = 100) -> tuple[int, bool]:
    return write_bucket(data_dir, "snapshots", "sim", T0, table, flush_rows=flush_rows)


def _keys(table: pa.Table) -> list[tuple[str, str, int, int]]:
    cols = [table.column(n).to_pylist() for n in ("market_id", "outcome_id", "ts_recv", "seq")]
    return list(zip(*cols, strict=True))


def test_several_flushes_make_one_file_then_parts(tmp_path: Path) -> None:
    base = snapshot_path(tmp_path, "snapshots", "sim", T0)
    chunks = [snapshot_table([T0 + 1000 * i + j for j in range(30)]) for i in range(5)]
    results = [_write(tmp_path, chunk) for chunk in chunks]
    # 30, 60, 90 rows rewrite the bucket's file; 120 >= flush_rows; the 5th starts part _1.
    assert [new for _, new in results] == [True, False, False, False, True]
    assert sorted(p.name for p in base.parent.iterdir()) == [
        base.name,
        part_path(base, 1).name,
    ]
    assert pq.read_metadata(base).num_rows == 120
    assert pq.read_metadata(part_path(base, 1)).num_rows == 30
    back = pa.concat_tables([pq.read_table(base), pq.read_table(part_path(base, 1))])
    assert sorted(back.column("ts_recv").to_pylist()) == sorted(
        pa.concat_tables(chunks).column("ts_recv").to_pylist()
    )
    assert results[0][0] > 0


def test_rows_are_sorted_within_a_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ts = [T0 + int(x) for x in rng.permutation(200)]
    _write(tmp_path, snapshot_table(ts[:120], markets=7), flush_rows=1_000)
    _write(tmp_path, snapshot_table(ts[120:], markets=7), flush_rows=1_000)
    table = pq.read_table(snapshot_path(tmp_path, "snapshots", "sim", T0))
    assert table.num_rows == 200
    assert _keys(table) == sorted(_keys(table))
    assert table.schema.remove_metadata() == SNAPSHOT_SCHEMA


def test_sort_rows_matches_arrow_sort_including_lists() -> None:
    table = snapshot_table([T0 + 7 * i % 50 for i in range(50)], markets=4)
    ragged = pa.concat_tables([table.slice(30), table.slice(3, 20)])  # chunked and sliced
    for source in (table, ragged):
        expected = source.take(pc.sort_indices(source, sort_keys=SORT_KEYS))
        got = sort_rows(source)
        for name in ("bid_px", "bid_sz", "ask_px", "ask_sz", "market_id", "ts_recv", "seq"):
            assert got.column(name).to_pylist() == expected.column(name).to_pylist()
    in_order = sort_rows(table)
    assert sort_rows(in_order) is in_order


def test_unreadable_newest_part_is_left_and_a_new_part_started(tmp_path: Path) -> None:
    base = snapshot_path(tmp_path, "snapshots", "sim", T0)
    _write(tmp_path, snapshot_table([T0 + 1, T0 + 2]))
    base.write_bytes(b"PAR1 this is not parquet")
    size, new = _write(tmp_path, snapshot_table([T0 + 3]))
    assert new
    assert size > 0
    assert pq.read_table(part_path(base, 1)).column("ts_recv").to_pylist() == [T0 + 3]
    assert base.read_bytes() == b"PAR1 this is not parquet"


def _archive(tmp_path: Path) -> tuple[Path, int]:
    data = tmp_path / "data"
    total = 0
    for venue in ("alpha", "beta"):
        for start in ("2024-06-01T23:58:00", "2024-06-02T00:01:00"):
            ts = [utc_ms(start) + 1000 * i for i in range(25)]
            table = snapshot_table(ts, venue=venue)
            write_bucket(data, "snapshots", venue, bucket_start_ms(ts[0], 5), table, flush_rows=10)
            total += table.num_rows
    return data, total


def test_read_snapshots_pins_partitions_as_strings(tmp_path: Path) -> None:
    data, total = _archive(tmp_path)
    table = read_snapshots(data)
    assert table.num_rows == total
    assert table.schema.field("hour").type == pa.string()
    assert table.schema.field("date").type == pa.string()
    assert sorted(set(table.column("hour").to_pylist())) == ["00", "23"]
    assert table.schema.field("bid_px").type == pa.list_(pa.float64())
    alpha = read_snapshots(data, venue="alpha")
    assert set(alpha.column("venue").to_pylist()) == {"alpha"}
    assert alpha.num_rows == total // 2
    assert read_snapshots(tmp_path / "nothing").num_rows == 0


def test_polars_reads_the_archive(tmp_path: Path) -> None:
    data, total = _archive(tmp_path)
    frame = pl.scan_parquet(
        str(data / "orderbook_snapshots" / "**" / "*.parquet"),
        hive_partitioning=True,
        hive_schema={"venue": pl.String, "date": pl.String, "hour": pl.String},
    ).collect()
    assert frame.height == total
    assert frame.schema["bid_px"] == pl.List(pl.Float64)
    assert sorted(frame["hour"].unique().to_list()) == ["00", "23"]
    assert frame.filter(pl.col("venue") == "beta").height == total // 2
    assert frame["bid_px"].list.first().to_list() == frame["best_bid_px"].to_list()


def test_duckdb_reads_the_archive(tmp_path: Path) -> None:
    data, total = _archive(tmp_path)
    glob = str(data / "orderbook_snapshots" / "**" / "*.parquet")
    con = duckdb.connect()
    rows = con.execute(
        "SELECT venue, hour, count(*), max(len(ask_px))"
        " FROM read_parquet(?, hive_partitioning=true) GROUP BY ALL ORDER BY ALL",
        [glob],
    ).fetchall()
    assert rows == [
        ("alpha", "00", 25, 5),
        ("alpha", "23", 25, 5),
        ("beta", "00", 25, 5),
        ("beta", "23", 25, 5),
    ]
    assert sum(r[2] for r in rows) == total


def test_pyarrow_merges_the_venue_column_with_the_venue_folder(tmp_path: Path) -> None:
    # pyarrow (pandas' engine) infers ``venue=V`` folders as dictionary<int32, string>; a plain
    # string column of the same name in the files made it refuse the whole directory.
    data, total = _archive(tmp_path)
    trades = trade_batch([T0, T0 + 1, T0 + 2], venue="alpha").to_table()
    write_bucket(data, "trades", "alpha", T0, trades, flush_rows=10)
    for directory, rows in (("orderbook_snapshots", total), ("trades", 3)):
        table = pq.read_table(data / directory)
        assert table.num_rows == rows
        assert table.schema.field("venue").type == VENUE_TYPE
        assert table.schema.names.count("venue") == 1
        assert pd.read_parquet(data / directory, engine="pyarrow")["venue"].notna().all()
    by_venue = pq.read_table(data / "orderbook_snapshots").group_by("venue").aggregate([])
    assert sorted(by_venue.column("venue").to_pylist()) == ["alpha", "beta"]


def test_read_snapshots_reads_files_with_a_plain_string_venue(tmp_path: Path) -> None:
    # Archives written before the venue column was dictionary-typed stay readable, mixed in.
    data, total = _archive(tmp_path)
    old = snapshot_table([T0 + 100, T0 + 101], venue="gamma")
    old = old.set_column(1, "venue", old.column("venue").cast(pa.string()))
    path = snapshot_path(data, "snapshots", "gamma", T0)
    path.parent.mkdir(parents=True)
    pq.write_table(old, path)
    table = read_snapshots(data)
    assert table.num_rows == total + 2
    assert table.schema.field("venue").type == pa.string()
    assert read_snapshots(data, venue="gamma").column("venue").to_pylist() == ["gamma"] * 2
    write_bucket(
        data, "snapshots", "gamma", T0, snapshot_table([T0 + 102], venue="gamma"), flush_rows=10
    )
    assert pq.read_table(path).schema.field("venue").type == VENUE_TYPE
    assert read_snapshots(data, venue="gamma").num_rows == 3
