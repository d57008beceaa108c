"""The run bundle: manifest, runlog, metrics, fatal files, and refusing what is not a bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pmtape.capture import RunBundle, read_last_frames, resolve_run_dir
from pmtape.core.errors import CaptureCorrupt, UsageError


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_create_writes_manifest_runlog_and_metrics(tmp_path: Path) -> None:
    meta = {"config": {"shards": 2, "api_key": "[redacted]"}, "versions": {"pmtape": "0.1.0"}}
    with RunBundle.create(tmp_path, "r-1", meta) as b:
        b.runlog.write("heartbeat", shard=0, frames=10)
        b.metrics().write("metrics", loop_lag_ms=[0.3])
        b.metrics(3).write("metrics", capture_dropped_total=0)
    path = tmp_path / "captures" / "r-1"
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["run_id"] == "r-1"
    assert manifest["meta"] == meta
    assert manifest["stopped_wall_ns"] is None
    runlog = _lines(path / "runlog.ndjson")
    assert [r["kind"] for r in runlog] == ["lifecycle", "heartbeat"]
    assert runlog[1]["shard"] == 0
    assert isinstance(runlog[1]["ts_ns"], int)
    assert isinstance(runlog[1]["mono_ns"], int)
    assert _lines(path / "metrics" / "global.ndjson")[0]["loop_lag_ms"] == [0.3]
    assert (path / "metrics" / "shard_03.ndjson").exists()
    assert RunBundle.open(path).run_id == "r-1"


def test_finish_records_the_stop(tmp_path: Path) -> None:
    b = RunBundle.create(tmp_path, "r", {})
    b.finish("signal")
    manifest = json.loads((b.path / "manifest.json").read_text())
    assert manifest["stop_reason"] == "signal"
    assert manifest["stopped_wall_ns"] >= manifest["started_wall_ns"]
    assert _lines(b.path / "runlog.ndjson")[-1] == {
        **_lines(b.path / "runlog.ndjson")[-1],
        "kind": "lifecycle",
        "event": "stop",
    }


def test_write_fatal_produces_the_three_files(tmp_path: Path) -> None:
    with RunBundle.create(tmp_path, "r", {}) as b:
        b.write_fatal("universe empty", ["tok1", "tok2"], {0: [b"a", b"{}"], 1: []}, shard_count=2)
    fatal = json.loads((b.path / "fatal.json").read_text())
    assert fatal["reason"] == "universe empty"
    assert fatal["shard_count"] == 2
    assert json.loads((b.path / "missing_tokens.json").read_text()) == ["tok1", "tok2"]
    assert read_last_frames(b.path / "last_frames_shard_00.bin") == [b"a", b"{}"]
    assert read_last_frames(b.path / "last_frames_shard_01.bin") == []


def test_open_refuses_a_directory_that_is_not_a_bundle(tmp_path: Path) -> None:
    # Like a missing run, a usage error: the user named the wrong thing; nothing is damaged.
    with pytest.raises(UsageError, match="not a run bundle"):
        RunBundle.open(tmp_path)
    with pytest.raises(UsageError, match="not a run bundle"):
        resolve_run_dir(tmp_path, tmp_path)


def test_open_refuses_a_half_written_manifest(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"format": "pmtape-capture-bundle", "run_')
    with pytest.raises(CaptureCorrupt, match="half-written or damaged"):
        RunBundle.open(tmp_path)


def test_open_refuses_a_foreign_manifest(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"name": "something else"}')
    with pytest.raises(CaptureCorrupt, match="not a pmtape capture manifest"):
        RunBundle.open(tmp_path)


def test_create_refuses_an_existing_run_and_a_bad_id(tmp_path: Path) -> None:
    RunBundle.create(tmp_path, "r", {}).close()
    with pytest.raises(UsageError, match="already exists"):
        RunBundle.create(tmp_path, "r", {})
    with pytest.raises(UsageError, match="run id"):
        RunBundle.create(tmp_path, "../evil", {})


def test_resolve_run_dir_accepts_a_path_or_a_run_id(tmp_path: Path) -> None:
    RunBundle.create(tmp_path, "r7", {}).close()
    assert resolve_run_dir("r7", tmp_path) == tmp_path / "captures" / "r7"
    assert resolve_run_dir(str(tmp_path / "captures" / "r7"), Path("elsewhere")).name == "r7"
    with pytest.raises(UsageError, match="no run bundle"):
        resolve_run_dir("missing", tmp_path)
