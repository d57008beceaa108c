from __future__ import annotations

from pathlib import Path

import pytest

from pmtape.core.errors import StoreError
from pmtape.store.layout import bucket_start_ms, list_parts, part_path, snapshot_path
from tests.store.factories import utc_ms

ROOT = Path("/data")


@pytest.mark.parametrize(
    ("instant", "minutes", "bucket"),
    [
        ("2024-03-31T23:59:59.999", 5, "2024-03-31T23:55:00"),
        ("2024-04-01T00:00:00.000", 5, "2024-04-01T00:00:00"),
        ("2024-04-01T00:04:59.999", 5, "2024-04-01T00:00:00"),
        ("2024-04-01T10:59:59.999", 5, "2024-04-01T10:55:00"),
        ("2024-04-01T11:00:00.000", 5, "2024-04-01T11:00:00"),
        ("2024-04-01T10:44:59.999", 15, "2024-04-01T10:30:00"),
        ("2024-04-01T10:45:00.000", 15, "2024-04-01T10:45:00"),
        ("2024-12-31T23:59:59.999", 15, "2024-12-31T23:45:00"),
        ("2024-02-29T12:34:56.789", 60, "2024-02-29T12:00:00"),
        ("2024-02-29T12:34:56.789", 1, "2024-02-29T12:34:00"),
    ],
)
def test_bucket_start(instant: str, minutes: int, bucket: str) -> None:
    assert bucket_start_ms(utc_ms(instant), minutes) == utc_ms(bucket)


@pytest.mark.parametrize(
    ("instant", "minutes", "relative"),
    [
        (
            "2024-03-31T23:59:59.999",
            5,
            "orderbook_snapshots/venue=sim/date=2024-03-31/hour=23/snapshots_2024-03-31T23-55.parquet",
        ),
        (
            "2024-04-01T00:00:00.000",
            5,
            "orderbook_snapshots/venue=sim/date=2024-04-01/hour=00/snapshots_2024-04-01T00-00.parquet",
        ),
        (
            "2024-04-01T09:59:59.999",
            15,
            "orderbook_snapshots/venue=sim/date=2024-04-01/hour=09/snapshots_2024-04-01T09-45.parquet",
        ),
        (
            "2025-01-01T00:14:59.999",
            15,
            "orderbook_snapshots/venue=sim/date=2025-01-01/hour=00/snapshots_2025-01-01T00-00.parquet",
        ),
    ],
)
def test_snapshot_path_across_hour_and_day(instant: str, minutes: int, relative: str) -> None:
    bucket = bucket_start_ms(utc_ms(instant), minutes)
    assert snapshot_path(ROOT, "snapshots", "sim", bucket) == ROOT / relative


def test_trades_path_parts_and_shards() -> None:
    bucket = utc_ms("2024-05-06T07:10:00")
    hour_dir = "date=2024-05-06/hour=07"
    assert snapshot_path(ROOT, "trades", "kalshi", bucket) == (
        ROOT / f"trades/venue=kalshi/{hour_dir}/trades_2024-05-06T07-10.parquet"
    )
    base = snapshot_path(ROOT, "snapshots", "sim", bucket)
    assert snapshot_path(ROOT, "snapshots", "sim", bucket, part=2).name == (
        "snapshots_2024-05-06T07-10_2.parquet"
    )
    assert part_path(base, 0) == base
    assert part_path(base, 1).name == "snapshots_2024-05-06T07-10_1.parquet"
    assert snapshot_path(ROOT, "snapshots", "sim", bucket, shard="s1", part=1).name == (
        "snapshots_2024-05-06T07-10-s1_1.parquet"
    )


@pytest.mark.parametrize(
    ("table", "venue", "shard"),
    [("books", "sim", None), ("snapshots", "../x", None), ("snapshots", "a/b", None),
     ("snapshots", "", None), ("snapshots", "sim", "a_1")],
)  # fmt: skip
def test_bad_names_are_refused(table: str, venue: str, shard: str | None) -> None:
    with pytest.raises(StoreError):
        snapshot_path(ROOT, table, venue, 0, shard=shard)


def test_list_parts_in_part_order(tmp_path: Path) -> None:
    base = snapshot_path(tmp_path, "snapshots", "sim", utc_ms("2024-01-01T00:00:00"))
    base.parent.mkdir(parents=True)
    names = [
        base.name,
        part_path(base, 10).name,
        part_path(base, 2).name,
        "snapshots_2024-01-01T00-00-s1.parquet",  # another shard's file
        "snapshots_2024-01-01T00-05.parquet",  # another bucket
        f".{base.name}.tmp-1-ab",  # a temp file
    ]
    for name in names:
        (base.parent / name).write_bytes(b"")
    assert [n for n, _ in list_parts(base)] == [0, 2, 10]
    assert list_parts(base)[-1][1] == part_path(base, 10)
