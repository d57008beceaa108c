"""slice, audit, latency-report, inspect and time parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pmtape.capture import (
    CaptureReader,
    FrameFilter,
    RunBundle,
    inspect_bundle,
    make_filter,
    parse_time_ns,
    slice_bundle,
    verify_bundle,
)
from pmtape.core.errors import UsageError
from pmtape.ops import audit_runlog, write_latency_report

from .util import MONO0, SEC, WALL0, make_run


def test_slice_keeps_exactly_the_range_and_verifies(tmp_path: Path) -> None:
    src = make_run(tmp_path, frames=1000, step_ns=10_000_000, beats=10)  # 10 s of frames
    flt = FrameFilter(wall_from_ns=WALL0 + 2 * SEC, wall_to_ns=WALL0 + 5 * SEC)
    dest = tmp_path / "captures" / "cut"

    res = slice_bundle(src, dest, flt)

    expected = [f for f in CaptureReader(src).frames() if flt.matches(f)]
    got = list(CaptureReader(dest).frames())
    assert res.frames == len(got) == len(expected) == 300
    key = [(f.shard, f.stream, f.payload, f.rx_wall_ns, f.rx_mono_ns) for f in expected]
    assert [(f.shard, f.stream, f.payload, f.rx_wall_ns, f.rx_mono_ns) for f in got] == key
    assert verify_bundle(dest).ok
    assert res.runlog_records == 3  # heartbeats at 2, 3, 4 s
    meta = RunBundle.open(dest).manifest["meta"]
    assert meta["slice"]["source_run_id"] == "run1"


def test_slice_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    src = make_run(tmp_path, frames=10)
    with pytest.raises(UsageError, match="not empty"):
        slice_bundle(src, src, FrameFilter())


def test_audit_finds_heartbeat_gaps_over_the_threshold(tmp_path: Path) -> None:
    run = make_run(tmp_path, beats=3)
    with RunBundle.open(run) as b:  # a 4.5 s silence after the last beat, then one more
        b.runlog.write("heartbeat", ts_ns=WALL0 + int(6.5 * SEC), mono_ns=MONO0 + int(6.5 * SEC))
    res = audit_runlog(run, gap_s=2.0)
    assert res.heartbeats == 4
    assert res.gaps_over_threshold == 1
    assert res.max_gap_s == 4.5
    assert audit_runlog(run, gap_s=5.0).gaps_over_threshold == 0


def test_latency_report_reads_metrics_and_runlog(tmp_path: Path) -> None:
    run = make_run(tmp_path, lag_ms=(1.0, 2.0, 3.0, 250.0), finish=False)
    with RunBundle.open(run) as b:
        m = b.metrics(0)
        m.write("metrics", capture_dropped_total=2, rx_to_durable_ms=[12.0, 30.0])
        m.write("metrics", capture_dropped_total=5, dropped_total=1)
        for t in range(7):  # 6 s of pressure on shard 1
            m1 = b.metrics(1)
            m1.write("metrics", mono_ns=MONO0 + t * SEC, ts_ns=WALL0 + t * SEC, pressure=True)
        b.runlog.write("reconnect", shard=1)
        b.runlog.write("disconnect", shard=1)
        b.runlog.write("disconnect", shard=0, expected=True)

    report = write_latency_report(run)

    assert report["loop_lag_ms"]["max"] == 250.0
    assert report["loop_lag_ms"]["p50"] == 2.0
    assert report["rx_to_durable_ms"]["samples"] == 2
    assert report["drops"]["dropped_messages_total"] == 6
    assert report["reconnects"] == {"total": 1, "by_shard": {"1": 1}}
    assert report["disconnected"]["midrun"]["incidents"] == 1
    assert report["pressure_streaks"]["longest_s"] == 6.0
    assert report["pressure_streaks"]["failed"] is True
    assert json.loads((run / "latency_report.json").read_text()) == report
    assert "loop lag ms" in (run / "latency_report.txt").read_text()


def test_disconnects_after_stop_are_not_mid_run(tmp_path: Path) -> None:
    run = make_run(tmp_path)  # finished: lifecycle stop is in the runlog
    with RunBundle.open(run) as b:
        b.runlog.write("disconnect", shard=0)
    assert write_latency_report(run)["disconnected"]["midrun"]["incidents"] == 0


def test_inspect_decodes_json_and_shows_http(tmp_path: Path) -> None:
    run = make_run(tmp_path, frames=20)
    res = inspect_bundle(run, make_filter(kinds=["http_response"]), limit=5)
    assert res.shown == 1
    view = res.frames[0]
    assert view["payload"] == {"bids": []}
    assert view["http"]["url"] == "http://127.0.0.1/book"
    assert view["kind"] == "http_response"
    limited = inspect_bundle(run, None, limit=5)
    assert limited.shown == 5
    assert limited.truncated


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1760000000", 1_760_000_000 * SEC),
        ("1760000000123", 1_760_000_000_123_000_000),
        ("1760000000123456789", 1_760_000_000_123_456_789),
        ("2025-10-09T08:53:20Z", 1_760_000_000 * SEC),
        ("2025-10-09T08:53:20", 1_760_000_000 * SEC),
        ("2025-10-09T10:53:20+02:00", 1_760_000_000 * SEC),
    ],
)
def test_parse_time_ns(text: str, ns: int) -> None:
    assert parse_time_ns(text) == ns


def test_parse_time_and_kind_errors_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="cannot read time"):
        parse_time_ns("yesterday")
    with pytest.raises(UsageError, match="unknown frame kind"):
        make_filter(kinds=["ws_txt"])
