"""The capture sub-app: exit codes, --json, and one clear line (never a traceback) on bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from pmtape.cli.capture_cmd import capture_app

from .util import flip_byte, idx_entries, make_run

runner = CliRunner()


def _one_clear_line(result: Result, code: int, needle: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    # config loading may warn (unknown PMTAPE_* variables); the error is one line
    lines = [x for x in result.stderr.strip().splitlines() if "pmtape: warning" not in x]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pmtape: error: ")
    assert needle in lines[0]


def test_verify_ok_by_run_id_under_data_dir(tmp_path: Path) -> None:
    make_run(tmp_path)
    result = runner.invoke(capture_app, ["verify", "run1", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("OK")


def test_verify_json_summary(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    result = runner.invoke(capture_app, ["verify", str(run), "--json", "--summary-only"])
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["totals"]["frames"] == 401
    assert "segments" not in doc


def test_verify_names_the_bad_block_and_exits_1(tmp_path: Path) -> None:
    run = make_run(tmp_path, shards=1)
    e = idx_entries(run / "capture" / "shard_00.idx")[4]
    flip_byte(run / "capture" / "shard_00.frames", e.offset + 100)
    result = runner.invoke(capture_app, ["verify", str(run)])
    assert result.exit_code == 1
    assert f"FAILED: shard 00 shard_00.frames: block 4 at offset {e.offset}" in result.stdout
    assert "Traceback" not in result.output


@pytest.mark.parametrize("verb", ["verify", "inspect", "audit", "latency-report", "gate"])
def test_a_missing_run_and_a_folder_that_is_not_a_bundle_are_both_usage_errors(
    tmp_path: Path, verb: str
) -> None:
    (tmp_path / "captures" / "stray").mkdir(parents=True)
    not_a_bundle = runner.invoke(capture_app, [verb, str(tmp_path)])
    _one_clear_line(not_a_bundle, 2, "is not a run bundle (no manifest.json)")
    by_id = runner.invoke(capture_app, [verb, "stray", "-d", str(tmp_path)])
    _one_clear_line(by_id, 2, "is not a run bundle (no manifest.json)")
    missing = runner.invoke(capture_app, [verb, "nope", "-d", str(tmp_path)])
    _one_clear_line(missing, 2, "no run bundle 'nope'")


def test_half_written_manifest(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    text = (run / "manifest.json").read_text()
    (run / "manifest.json").write_text(text[: len(text) // 2])
    for verb in ("verify", "inspect", "audit", "latency-report", "gate"):
        _one_clear_line(runner.invoke(capture_app, [verb, str(run)]), 1, "half-written or damaged")


def test_random_bytes_frames_file(tmp_path: Path) -> None:
    run = make_run(tmp_path, shards=1)
    (run / "capture" / "shard_00.frames").write_bytes(os.urandom(5000))
    result = runner.invoke(capture_app, ["inspect", str(run)])
    assert result.exit_code == 1, result.output  # skipped and named, not a traceback
    assert "skipped: " in result.stdout
    assert "not a pmtape capture file (bad magic" in result.stdout
    verify = runner.invoke(capture_app, ["verify", str(run)])
    assert verify.exit_code == 1
    assert "not a pmtape capture file" in verify.stdout


def test_missing_run_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(capture_app, ["audit", "nope", "--data-dir", str(tmp_path)])
    _one_clear_line(result, 2, "no run bundle 'nope'")


def test_bad_time_is_a_usage_error(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    result = runner.invoke(capture_app, ["inspect", str(run), "--since", "noon-ish"])
    _one_clear_line(result, 2, "cannot read time")


def test_inspect_json_lists_frames(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    result = runner.invoke(
        capture_app, ["inspect", str(run), "--json", "--limit", "3", "--shard", "1"]
    )
    doc = json.loads(result.stdout)
    assert [f["shard"] for f in doc["frames"]] == [1, 1, 1]
    assert doc["frames"][0]["payload"]["event_type"] == "price_change"
    human = runner.invoke(capture_app, ["inspect", str(run), "--kind", "http_response"])
    assert "GET http://127.0.0.1/book -> 200" in human.stdout


def test_slice_then_verify(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    args = ["slice", str(run), "--out", "part", "--since", "1760000000.5", "--until", "1760000002"]
    result = runner.invoke(capture_app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["frames"] == 150
    assert doc["verify"]["ok"] is True
    assert runner.invoke(capture_app, ["verify", "part", "-d", str(tmp_path)]).exit_code == 0


def test_latency_report_writes_files(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    result = runner.invoke(capture_app, ["latency-report", str(run)])
    assert result.exit_code == 0
    assert "loop lag ms" in result.stdout
    assert (run / "latency_report.json").exists()
    assert (run / "latency_report.txt").exists()


def test_audit_json(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    doc = json.loads(runner.invoke(capture_app, ["audit", str(run), "--json"]).stdout)
    assert doc["heartbeats"] == 6
    assert doc["gaps_over_threshold"] == 0


@pytest.mark.parametrize(("beat_every_s", "code", "verdict"), [(1.0, 0, "PASS"), (3.0, 1, "FAIL")])
def test_gate_pass_and_fail(tmp_path: Path, beat_every_s: float, code: int, verdict: str) -> None:
    run = make_run(tmp_path, beat_every_s=beat_every_s)
    result = runner.invoke(capture_app, ["gate", str(run)])
    assert result.exit_code == code
    assert result.stdout.splitlines()[0] == verdict


def test_bench_json(tmp_path: Path) -> None:
    result = runner.invoke(
        capture_app, ["bench", str(tmp_path / "b"), "--frames", "3000", "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["frames"] == 3000
    assert doc["compression_ratio"] > 4
    assert doc["drops"] == 0
    assert runner.invoke(capture_app, ["verify", str(tmp_path / "b")]).exit_code == 0


def test_inspect_prints_odd_stream_ids_verbatim(tmp_path: Path) -> None:
    from pmtape.capture import FrameKind, RunBundle, WriterOptions

    with RunBundle.create(tmp_path, "odd", {}) as b:
        cap = b.open_capture([0], WriterOptions(threaded=False))
        cap.append(0, FrameKind.WS_BINARY, "[/bold]x", b"\xff\x00", 1, 1)
        cap.close()
    result = runner.invoke(capture_app, ["inspect", str(b.path)])
    assert result.exit_code == 0, result.output
    assert "ws_binary [/bold]x 2 B" in result.stdout
    assert "(base64) /wA=" in result.stdout


def test_run_ids_are_looked_up_under_data_dir_from_config_env_then_flag(tmp_path: Path) -> None:
    for name in ("file", "env", "flag"):
        make_run(tmp_path / name, run_id=f"in-{name}")
    cfg = tmp_path / "pmtape.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "file"}"\n')
    env = {"PMTAPE_DATA_DIR": str(tmp_path / "env")}

    def verify(run_id: str, *args: str, env: dict[str, str] | None = None) -> int:
        return runner.invoke(capture_app, ["verify", run_id, *args], env=env).exit_code

    assert verify("in-file", "--config", str(cfg)) == 0
    assert verify("in-env", "--config", str(cfg), env=env) == 0  # env beats the file
    assert verify("in-file", "--config", str(cfg), env=env) == 2
    flag = ["--config", str(cfg), "--data-dir", str(tmp_path / "flag")]
    assert verify("in-flag", *flag, env=env) == 0  # the flag beats both
    assert verify("in-env", *flag, env=env) == 2
    for verb in ("inspect", "audit", "gate"):
        result = runner.invoke(capture_app, [verb, "in-env"], env=env)
        assert result.exit_code == 0, (verb, result.output)


def test_a_bad_config_file_is_a_config_error(tmp_path: Path) -> None:
    make_run(tmp_path)
    result = runner.invoke(capture_app, ["verify", "run1", "--config", str(tmp_path / "no.toml")])
    assert result.exit_code == 2
    assert "pmtape: config error: " in result.stderr
