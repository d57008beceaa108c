"""The miner over small Hive archives built with pyarrow in the production schema."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pmtape.core.errors import StoreError, UsageError
from pmtape.core.instrument import Instrument
from pmtape.mine.miner import InstrumentStats, mine, skipped_summary
from pmtape.schedule.scheduler import Scheduler
from pmtape.schedule.scores import load_scores
from pmtape.store.stats import STATS_COLUMNS, stats_path
from tests.mine.archive import bucket_path, ms, snap, write_garbage, write_rows

START = ms("2024-05-01T10:00:00")
END = ms("2024-05-01T12:00:00")
TIMES = [ms(f"2024-05-01T{t}") for t in ("10:00:00", "10:30:00", "11:00:00", "11:30:00")]

DEEP_BOOK = {
    "bids": [(0.40, 100.0), (0.39, 100.0), (0.38, 100.0), (0.37, 1000.0)],
    "asks": [(0.60, 100.0), (0.61, 100.0), (0.62, 100.0), (0.63, 1000.0)],
}


def three_markets(venue: str = "v1") -> list[dict[str, object]]:
    """deep: 600 depth, 0.20 spread, no change; tight: 20, 0.01, seq moves every snapshot;
    mid: 150, 0.10, seq stays 0 but the best bid size changes once."""
    rows = []
    for i, ts in enumerate(TIMES):
        rows.append(snap(ts, "deep", venue=venue, seq=5, **DEEP_BOOK))
        rows.append(
            snap(ts, "tight", venue=venue, seq=i + 1, bids=[(0.49, 10.0)], asks=[(0.50, 10.0)])
        )
        bid_sz = 50.0 if i < 2 else 60.0
        mid_bids = [(0.45, bid_sz), (0.44, 50.0 - (bid_sz - 50.0))]
        rows.append(snap(ts, "mid", venue=venue, bids=mid_bids, asks=[(0.55, 50.0)]))
    return rows


def keys(stats: list[InstrumentStats]) -> list[str]:
    return [s.market_id for s in stats]


def test_rankings_depth_spread_updates(tmp_path: Path) -> None:
    write_rows(tmp_path, three_markets())
    result = mine(tmp_path, None, START, END, top_n=10)
    assert keys(result.top_depth) == ["deep", "mid", "tight"]
    assert keys(result.top_spread) == ["tight", "mid", "deep"]
    assert keys(result.top_updates) == ["tight", "mid", "deep"]
    by_market = {s.market_id: s for s in result.top_depth}
    assert by_market["deep"].avg_depth3 == pytest.approx(600.0)  # 4th levels left out
    assert by_market["mid"].avg_depth3 == pytest.approx(150.0)
    assert by_market["tight"].avg_spread == pytest.approx(0.01)
    assert [by_market[m].update_count for m in ("deep", "tight", "mid")] == [0, 3, 1]
    assert by_market["tight"].instrument_key == "v1:tight:yes"
    assert (by_market["deep"].first_ts, by_market["deep"].last_ts) == (TIMES[0], TIMES[-1])
    assert (result.instruments, result.snapshots) == (3, 12)


def test_score_is_mean_percentile_rank(tmp_path: Path) -> None:
    write_rows(tmp_path, three_markets())
    result = mine(tmp_path, None, START, END, top_n=10)
    scores = {s.market_id: s.score for s in result.top_depth}
    assert scores == pytest.approx({"deep": 5 / 9, "mid": 6 / 9, "tight": 7 / 9})


def test_result_as_json(tmp_path: Path) -> None:
    write_rows(tmp_path, three_markets())
    doc = json.loads(json.dumps(mine(tmp_path, "v1", START, END, top_n=2).to_dict()))
    assert [row["market_id"] for row in doc["top_updates"]] == ["tight", "mid"]
    assert doc["stats_paths"] == {"v1": str(stats_path(tmp_path, "v1", "2024-05-01"))}
    assert (doc["venue"], doc["snapshots"], doc["instruments"]) == ("v1", 12, 3)


def test_top_n_limits_each_ranking(tmp_path: Path) -> None:
    write_rows(tmp_path, three_markets())
    result = mine(tmp_path, None, START, END, top_n=1)
    assert (keys(result.top_depth), keys(result.top_spread), keys(result.top_updates)) == (
        ["deep"],
        ["tight"],
        ["tight"],
    )


def test_status_rules_for_depth_and_spread(tmp_path: Path) -> None:
    book = {"bids": [(0.45, 10.0)], "asks": [(0.55, 10.0)]}
    rows = [
        snap(TIMES[0], "m", seq=1, **book),
        snap(TIMES[1], "m", seq=2, status="stale", bids=[(0.2, 500.0)], asks=[(0.7, 500.0)]),
        snap(TIMES[2], "m", seq=3, status="partial", bids=[(0.4, 30.0)]),
        snap(TIMES[3], "m", seq=4, status="empty"),
        snap(TIMES[0], "thin", status="partial", bids=[(0.4, 5.0)]),
    ]
    write_rows(tmp_path, rows)
    result = mine(tmp_path, "v1", START, END, top_n=10)
    m = next(s for s in result.top_depth if s.market_id == "m")
    assert m.avg_depth3 == pytest.approx((20.0 + 30.0 + 0.0) / 3)  # stale row left out
    assert m.avg_spread == pytest.approx(0.10)  # only the ok row has a spread
    assert m.snapshots == 4
    assert keys(result.top_spread) == ["m"]  # "thin" never had a spread
    thin = next(s for s in result.top_depth if s.market_id == "thin")
    assert thin.avg_spread is None


def test_update_count_orders_by_time_not_file_order(tmp_path: Path) -> None:
    t = [START + i * 1000 for i in range(6)]
    book = {"bids": [(0.4, 1.0)], "asks": [(0.6, 1.0)]}
    rows = [
        snap(t[5], "m", seq=3, **book),
        snap(t[0], "m", seq=1, **book),
        snap(t[2], "m", seq=2, **book),  # seq moved: counts
        snap(t[1], "m", seq=1, **book),  # identical to t0: does not count
        snap(t[3], "m", seq=2, bids=[(0.41, 1.0)], asks=[(0.6, 1.0)]),  # price moved: counts
        snap(t[4], "m", seq=2, bids=[(0.41, 1.0)], asks=[(0.6, 1.0)]),  # unchanged
    ]
    write_rows(tmp_path, rows)
    result = mine(tmp_path, None, START, END, top_n=10)
    assert result.top_updates[0].update_count == 3  # t2, t3, t5


def test_out_of_range_files_are_never_opened(tmp_path: Path) -> None:
    write_rows(tmp_path, three_markets())
    for at in (
        "2024-05-01T09:55:00",
        "2024-05-01T12:00:00",
        "2024-04-30T11:00:00",
        "2024-05-02T10:00:00",
    ):
        write_garbage(tmp_path, "v1", ms(at))
    result = mine(tmp_path, None, START, END, top_n=10)
    assert result.snapshots == 12


def test_unreadable_files_inside_the_range_are_skipped_named_and_counted(tmp_path: Path) -> None:
    write_rows(tmp_path, three_markets())
    garbage = write_garbage(tmp_path, "v1", ms("2024-05-01T10:05:00"))
    empty = bucket_path(tmp_path, "v1", ms("2024-05-01T10:10:00"))
    empty.write_bytes(b"")
    wrong = bucket_path(tmp_path, "v1", ms("2024-05-01T10:15:00"))
    pq.write_table(
        pa.table({"ts_recv": ["yesterday"], "market_id": ["m"], "outcome_id": ["o"]}), wrong
    )
    result = mine(tmp_path, None, START, END, top_n=10)
    assert result.snapshots == 12  # every good row still counted
    assert {f.path: f.reason for f in result.skipped} == {
        garbage: "not a Parquet file, or truncated",
        empty: "empty file",
        wrong: "wrong schema: ts_recv is String, expected Int64",
    }
    assert result.to_dict()["skipped"][0]["path"] == str(garbage)
    line = skipped_summary(result.skipped)
    assert line.startswith("skipped 3 unreadable files: ")
    assert f"{garbage} (not a Parquet file, or truncated)" in line


def test_damaged_pages_behind_a_good_footer_are_skipped(tmp_path: Path) -> None:
    rows = three_markets() + [snap(ms("2024-05-01T10:07:00"), f"x{i}", seq=i) for i in range(500)]
    paths = write_rows(tmp_path, rows)
    damaged = bucket_path(tmp_path, "v1", ms("2024-05-01T10:07:00"))
    assert damaged in paths
    raw = bytearray(damaged.read_bytes())
    footer = int.from_bytes(raw[-8:-4], "little") + 8  # metadata, its length, PAR1
    raw[4:-footer] = b"\xff" * len(raw[4:-footer])  # damage every page, keep the footer
    damaged.write_bytes(bytes(raw))
    result = mine(tmp_path, None, START, END, top_n=10)
    assert [(f.path, f.reason) for f in result.skipped] == [(damaged, "corrupt data")]
    assert result.snapshots == 12


def test_only_unreadable_files_is_a_failure_naming_them(tmp_path: Path) -> None:
    garbage = write_garbage(tmp_path, "v1", ms("2024-05-01T10:05:00"))
    with pytest.raises(StoreError, match="skipped 1 unreadable file: ") as info:
        mine(tmp_path, None, START, END, top_n=10)
    assert str(garbage) in str(info.value)
    assert "PAR1" not in str(info.value)  # our words, not the reader's raw bytes


def test_range_edges_trim_rows_within_hours(tmp_path: Path) -> None:
    write_rows(tmp_path, three_markets())
    result = mine(tmp_path, None, TIMES[1], TIMES[3], top_n=10)  # [10:30, 11:30)
    assert result.snapshots == 6
    assert {(s.first_ts, s.last_ts) for s in result.top_depth} == {(TIMES[1], TIMES[2])}


def test_range_across_dates_prunes_by_date_and_hour(tmp_path: Path) -> None:
    inside = [ms("2024-04-30T23:10:00"), ms("2024-05-01T12:00:00"), ms("2024-05-02T00:50:00")]
    write_rows(tmp_path, [snap(ts, "m", seq=i) for i, ts in enumerate(inside)])
    for at in ("2024-04-30T22:55:00", "2024-05-02T01:00:00", "2024-05-03T00:00:00"):
        write_garbage(tmp_path, "v1", ms(at))
    start, end = ms("2024-04-30T23:00:00"), ms("2024-05-02T01:00:00")
    result = mine(tmp_path, None, start, end, top_n=10)
    assert result.snapshots == 3
    assert result.stats_paths == {"v1": stats_path(tmp_path, "v1", "2024-05-02")}


def test_stats_cache_written_per_venue(tmp_path: Path) -> None:
    write_rows(tmp_path, three_markets("v1") + three_markets("v2")[:3])
    result = mine(tmp_path, None, START, END, top_n=10)
    assert result.stats_paths == {
        "v1": stats_path(tmp_path, "v1", "2024-05-01"),
        "v2": stats_path(tmp_path, "v2", "2024-05-01"),
    }
    table = pq.read_table(result.stats_paths["v1"])
    assert tuple(table.column_names) == STATS_COLUMNS
    assert set(table.column("venue").to_pylist()) == {"v1"}
    assert sorted(table.column("instrument_key").to_pylist()) == [
        "v1:deep:yes",
        "v1:mid:yes",
        "v1:tight:yes",
    ]
    assert str(table.schema.field("update_count").type) == "int64"
    assert pq.read_table(result.stats_paths["v2"]).num_rows == 3
    assert result.stats_path is None  # two venues: see stats_paths
    assert not [p for p in result.stats_paths["v1"].parent.iterdir() if p.name.startswith(".")]


def test_stats_date_is_the_last_instant_of_the_range(tmp_path: Path) -> None:
    write_rows(tmp_path, three_markets())
    result = mine(tmp_path, None, START, ms("2024-05-02T00:00:00"), top_n=10)
    assert result.stats_paths["v1"].parent.name == "date=2024-05-01"


def test_venue_filter(tmp_path: Path) -> None:
    write_rows(tmp_path, three_markets("v1") + three_markets("v2"))
    result = mine(tmp_path, "v2", START, END, top_n=10)
    assert result.venue == "v2"
    assert result.stats_path == stats_path(tmp_path, "v2", "2024-05-01")
    assert {s.venue for s in result.top_depth} == {"v2"}
    assert not (tmp_path / "stats" / "venue=v1").exists()


@pytest.mark.parametrize(
    ("start", "end"),
    [(ms("2024-05-01T14:00:00"), ms("2024-05-01T15:00:00")), (END, END + 1)],
)
def test_empty_range_is_a_usage_error(tmp_path: Path, start: int, end: int) -> None:
    write_rows(tmp_path, three_markets())
    with pytest.raises(UsageError, match="no snapshots between"):
        mine(tmp_path, None, start, end, top_n=10)
    assert not (tmp_path / "stats").exists()


def test_no_archive_or_reversed_range_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no snapshots between"):
        mine(tmp_path, None, START, END, top_n=10)
    write_rows(tmp_path, three_markets())
    with pytest.raises(UsageError):
        mine(tmp_path, None, END, START, top_n=10)


def test_scores_round_trip_into_the_scheduler(tmp_path: Path) -> None:
    write_rows(tmp_path, three_markets())
    mine(tmp_path, "v1", START, END, top_n=10)
    scores = load_scores(tmp_path, "v1", today_ms=END)
    assert scores is not None
    assert set(scores) == {"v1:deep:yes", "v1:mid:yes", "v1:tight:yes"}
    assert all(0.0 < s <= 1.0 and math.isfinite(s) for s in scores.values())
    universe = [
        Instrument(venue="v1", market_id=m, instrument_id="yes", poll_key=m, activity=a)
        for m, a in (("deep", 9.0), ("mid", 5.0), ("tight", 1.0), ("new", 100.0))
    ]
    scheduler = Scheduler("v1", hot_count=2, max_subs=3, rotation_period_s=60)
    scheduler.update_universe(universe, scores)
    assert scheduler.hot_source == "stats"
    assert scheduler.targets(0.0).hot == ["v1:tight:yes", "v1:mid:yes"]


def test_a_dictionary_venue_column_is_read_not_skipped(tmp_path: Path) -> None:
    # The store writes venue as dictionary<int32, string>, the type of venue=V folders.
    for path in write_rows(tmp_path, three_markets()):
        table = pq.read_table(path)
        venue = table.column("venue").cast(pa.dictionary(pa.int32(), pa.string()))
        pq.write_table(
            table.set_column(table.schema.get_field_index("venue"), "venue", venue), path
        )
    result = mine(tmp_path, None, START, END, top_n=10)
    assert result.skipped == ()
    assert result.snapshots == 12
