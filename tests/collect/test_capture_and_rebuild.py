"""The collector captures what it collects, and the capture rebuilds the same archive."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmtape.capture.reader import CaptureReader
from pmtape.capture.verify import verify_bundle
from pmtape.cli.app import app
from pmtape.cli.common import adapters_for
from pmtape.collect.collector import Collector, CollectSummary
from pmtape.collect.rebuild import rebuild
from pmtape.config import Config
from pmtape.discovery.service import discover_once
from pmtape.ops.reports import audit_runlog
from pmtape.store.files import read_table
from tests.capture.util import idx_entries
from tests.conftest import fast_config, fast_flags
from tests.helpers import eventually_sync


def _run(cfg: Config, seconds: float, **kwargs: object) -> CollectSummary:
    async def go() -> CollectSummary:
        await discover_once(cfg.data_dir, adapters_for(cfg))
        return await Collector(cfg, adapters_for(cfg), **kwargs).run_until(asyncio.Event(), seconds)

    return asyncio.run(go())


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


def _rows(root: Path, kind: str) -> list[dict[str, object]]:
    table = read_table(root, kind).drop_columns(["date", "hour"])
    keys = [(c, "ascending") for c in ("market_id", "outcome_id", "ts_recv", "seq")]
    rows = table.sort_by(keys).to_pylist()
    # NaN != NaN: compare missing mids/spreads as None.
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
        for r in rows
    ]


def test_capture_verifies_and_rebuilds_byte_identical_and_equal_to_live(tmp_path: Path) -> None:
    cfg = fast_config(tmp_path / "data", **{"venues.sim.api_key": "do-not-leak-me"})
    summary = _run(cfg, 4.0)
    assert summary.run_dir is not None
    run_dir = Path(summary.run_dir)

    check = verify_bundle(run_dir)
    assert check.ok, check.first_error
    audit = audit_runlog(run_dir)
    assert audit.heartbeats >= 3
    assert audit.gaps_over_threshold == 0
    manifest = (run_dir / "manifest.json").read_text()
    assert "do-not-leak-me" not in manifest
    assert json.loads(manifest)["meta"]["venues"] == {"sim": 0}

    first = rebuild(run_dir, tmp_path / "r1")
    second = rebuild(run_dir, tmp_path / "r2")
    assert _digest(tmp_path / "r1") == _digest(tmp_path / "r2") != {}
    assert first.snapshot_rows == summary.rows_written > 0
    assert _rows(tmp_path / "r1", "snapshots") == _rows(cfg.data_dir, "snapshots")
    assert _rows(tmp_path / "r1", "trades") == _rows(cfg.data_dir, "trades")
    assert second.frames == first.frames > 0


def test_no_capture_writes_no_bundle(tmp_path: Path) -> None:
    cfg = fast_config(tmp_path / "data")
    summary = _run(cfg, 1.0, capture=False)
    assert summary.run_dir is None
    assert not (cfg.data_dir / "captures").exists()


def test_sigkilled_collector_loses_at_most_the_unflushed_block(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    flags = [*fast_flags(data_dir), "--set", "capture.flush_interval_s=0.2"]
    base = [sys.executable, "-m", "pmtape"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMTAPE_")}
    subprocess.run([*base, "discover", *flags], check=True, env=env, capture_output=True)
    proc = subprocess.Popen(
        [*base, "collect", "--run-id", "killed", *flags],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    frames = data_dir / "captures" / "killed" / "capture" / "shard_00.frames"
    try:
        eventually_sync(lambda: frames.exists() and frames.stat().st_size > 50_000, 30)
        killed_ns = time.time_ns()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_dir = data_dir / "captures" / "killed"
    check = verify_bundle(run_dir)
    assert check.ok, check.first_error
    got = list(CaptureReader(run_dir).frames())
    assert len(got) > 100
    # Everything older than the flush interval (plus scheduling slack) made it to disk.
    assert killed_ns - got[-1].rx_wall_ns < 1.5e9


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p.mkdir(), "not a run bundle"),
        (
            lambda p: (p.mkdir(), (p / "manifest.json").write_text('{"format": "pmtape-cap')),
            "manifest",
        ),
    ],
)
def test_rebuild_bad_input_is_one_clear_line(tmp_path: Path, setup, message: str) -> None:
    run = tmp_path / "run"
    setup(run)
    result = CliRunner().invoke(app, ["rebuild", str(run), "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_rebuild_skips_a_lost_block_names_it_and_exits_1_unless_allowed(tmp_path: Path) -> None:
    cfg = fast_config(tmp_path / "data")
    summary = _run(cfg, 2.0)
    assert summary.run_dir is not None
    run_dir = Path(summary.run_dir)
    written = json.loads((run_dir / "manifest.json").read_text())["capture_at_stop"]["0"]
    assert written["frames"] == len(list(CaptureReader(run_dir).frames())) > 0
    frames = run_dir / "capture" / "shard_00.frames"
    entries = idx_entries(run_dir / "capture" / "shard_00.idx")
    assert len(entries) >= 2
    e = entries[len(entries) // 2]
    data = frames.read_bytes()
    frames.write_bytes(data[: e.offset] + data[e.offset + 64 + e.comp_len :])
    lost = f"frames {e.first_frame}-{e.first_frame + e.n_frames - 1}"

    args = ["rebuild", str(run_dir), "--data-dir", str(cfg.data_dir)]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "r1")])
    assert result.exit_code == 1, result.output
    assert "skipped: " in result.stdout
    assert lost in result.stdout
    assert read_table(tmp_path / "r1", "snapshots").num_rows > 0  # it kept going
    allowed = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "r2"), "--allow-damage"])
    assert allowed.exit_code == 0, allowed.output
    assert lost in allowed.stdout
