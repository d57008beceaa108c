"""verify, gate and inspect never pass a lost frame: each loss fails and is named by the CLI."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmtape.capture import RunBundle
from pmtape.capture.format import BLOCK_HEADER, IDX_ENTRY
from pmtape.cli.capture_cmd import capture_app

from .util import idx_entries, make_run

runner = CliRunner()
HDR = BLOCK_HEADER.size
FRAMES = 2061  # + 1 HTTP frame on shard 0: frames 0-1031 there, 0-1029 on shard 1


def _frames(run: Path) -> Path:
    return run / "capture" / "shard_00.frames"


def _idx(run: Path) -> Path:
    return run / "capture" / "shard_00.idx"


def _cut_to_60_percent(run: Path) -> str:
    os.truncate(_frames(run), _frames(run).stat().st_size * 6 // 10)
    return "missing: the idx points past the end"


def _zero_bytes(run: Path) -> str:
    os.truncate(_frames(run), 0)
    return "shard_00.frames: file is 0 bytes, no file header"


def _missing_shard(run: Path) -> str:
    _frames(run).unlink()
    _idx(run).unlink()
    return "shard 00: capture/shard_00.frames is missing; 1032 frames were written"


def _block_cut_out_of_the_middle(run: Path) -> str:
    entries = idx_entries(_idx(run))
    k = len(entries) // 2
    e = entries[k]
    data = _frames(run).read_bytes()
    _frames(run).write_bytes(data[: e.offset] + data[e.offset + HDR + e.comp_len :])
    last = e.first_frame + e.n_frames - 1
    return (
        f"frames {e.first_frame}-{last} missing before block {k} at offset {e.offset}"
        f" (frames {last + 1}-"
    )


def _idx_past_the_end(run: Path) -> str:
    entries = idx_entries(_idx(run))
    os.truncate(_frames(run), entries[-2].offset)  # two whole blocks gone, at a block boundary
    a, b = entries[-2], entries[-1]
    return (
        f"2 blocks ({len(entries) - 2}-{len(entries) - 1}), bytes {a.offset}-"
        f"{b.offset + HDR + b.comp_len - 1}, frames {a.first_frame}-"
        f"{b.first_frame + b.n_frames - 1} missing: the idx points past the end"
    )


def _fewer_frames_than_recorded(run: Path) -> str:
    # The last block and its idx entry gone: the files are consistent, only the stop record
    # knows what was written.
    last = idx_entries(_idx(run))[-1]
    os.truncate(_frames(run), last.offset)
    os.truncate(_idx(run), _idx(run).stat().st_size - IDX_ENTRY.size)
    return (
        f"shard 00: {last.n_frames} frames missing (frames {last.first_frame}-1031): "
        f"{last.first_frame} on disk of 1032 written (per the manifest's stop record)"
    )


DAMAGE = [
    _cut_to_60_percent,
    _zero_bytes,
    _missing_shard,
    _block_cut_out_of_the_middle,
    _idx_past_the_end,
    _fewer_frames_than_recorded,
]


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return make_run(tmp_path, frames=FRAMES, lag_ms=(0.5,) * 200)


def test_a_clean_run_verifies_passes_and_inspects(run: Path) -> None:
    verify = runner.invoke(capture_app, ["verify", str(run)])
    assert verify.exit_code == 0, verify.output
    assert verify.stdout.strip().endswith("OK")
    assert RunBundle.open(run).manifest["capture_at_stop"]["0"]["frames"] == 1032
    assert runner.invoke(capture_app, ["gate", str(run)]).exit_code == 0
    inspect = runner.invoke(capture_app, ["inspect", str(run), "-n", "5000"])
    assert inspect.exit_code == 0, inspect.output
    assert "skipped" not in inspect.stdout


@pytest.mark.parametrize("damage", DAMAGE)
def test_verify_fails_and_names_the_loss(run: Path, damage: Callable[[Path], str]) -> None:
    needle = damage(run)
    result = runner.invoke(capture_app, ["verify", str(run)])
    assert result.exit_code == 1, result.output
    assert needle in result.stdout
    assert "FAILED: " in result.stdout
    assert "Traceback" not in result.output


@pytest.mark.parametrize("damage", DAMAGE)
def test_gate_fails_and_names_the_loss(run: Path, damage: Callable[[Path], str]) -> None:
    needle = damage(run)
    result = runner.invoke(capture_app, ["gate", str(run)])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "FAIL"
    assert any("capture does not verify" in x and "shard 00" in x for x in lines[1:]), lines
    verify = runner.invoke(capture_app, ["verify", str(run), "--json"])
    assert needle in verify.stdout


@pytest.mark.parametrize("damage", DAMAGE)
def test_inspect_skips_names_and_exits_1_unless_allowed(
    run: Path, damage: Callable[[Path], str]
) -> None:
    damage(run)
    args = ["inspect", str(run), "--limit", "5000"]
    result = runner.invoke(capture_app, args)
    assert result.exit_code == 1, result.output
    skipped = [x for x in result.stdout.splitlines() if x.startswith("skipped: ")]
    assert skipped
    assert all(re.search(r"shard[ _]00", x) for x in skipped), skipped  # only shard 0 lost
    assert "01#1029 " in result.stdout  # the other shard is read to its end
    allowed = runner.invoke(capture_app, [*args, "--allow-damage"])
    assert allowed.exit_code == 0, allowed.output
    assert "skipped: " in allowed.stdout


def _killed_mid_block(run: Path) -> tuple[int, int]:
    """Leave what a SIGKILL during the last block's write leaves: its first bytes, no entry."""
    last = idx_entries(_idx(run))[-1]
    os.truncate(_frames(run), last.offset + HDR + 40)
    os.truncate(_idx(run), _idx(run).stat().st_size - IDX_ENTRY.size)
    return last.offset, HDR + 40


def test_a_crash_torn_tail_verifies_and_is_named(tmp_path: Path) -> None:
    run = make_run(tmp_path, frames=FRAMES, finish=False)
    offset, nbytes = _killed_mid_block(run)
    result = runner.invoke(capture_app, ["verify", str(run)])
    assert result.exit_code == 0, result.output
    assert (
        f"note: shard 00 shard_00.frames: torn tail: {nbytes} bytes at offset {offset}: "
        "the block being written when the run crashed (skipped)"
    ) in result.stdout


def test_a_crash_that_lost_blocks_its_metrics_recorded_as_written_fails(tmp_path: Path) -> None:
    run = make_run(tmp_path, frames=FRAMES, finish=False)
    blocks = len(idx_entries(_idx(run)))
    with RunBundle.open(run) as b:  # the last heartbeat's metrics record, as the collector's
        b.metrics(0).write("metrics", capture_blocks=blocks, capture_durable_frames=1032)
    _killed_mid_block(run)
    result = runner.invoke(capture_app, ["verify", str(run)])
    assert result.exit_code == 1, result.output
    assert "written (per metrics/shard_00.ndjson)" in result.stdout


def test_a_torn_tail_in_a_cleanly_stopped_run_fails(run: Path) -> None:
    _killed_mid_block(run)
    result = runner.invoke(capture_app, ["verify", str(run)])
    assert result.exit_code == 1, result.output
    assert "but the run was stopped cleanly, so no block was being written" in result.stdout
