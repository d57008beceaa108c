"""The quality gates: a healthy run passes; each failure mode fails with its reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pmtape.capture import RunBundle
from pmtape.ops import run_gate

from .util import MONO0, SEC, WALL0, flip_byte, idx_entries, make_run


def test_healthy_run_passes(tmp_path: Path) -> None:
    res = run_gate(make_run(tmp_path))
    assert res.passed, res.reasons
    assert res.to_dict()["verdict"] == "PASS"


def _gap(b: RunBundle) -> None:
    b.runlog.write("heartbeat", ts_ns=WALL0 + 9 * SEC, mono_ns=MONO0 + 9 * SEC)


def _reconnect(b: RunBundle) -> None:
    b.runlog.write("reconnect", shard=0)


def _drops(b: RunBundle) -> None:
    b.metrics(0).write("metrics", capture_dropped_total=3)


def _lag_p99(b: RunBundle) -> None:
    b.metrics(0).write("metrics", loop_lag_ms=[50.0] * 30)


def _lag_max(b: RunBundle) -> None:
    b.metrics(0).write("metrics", loop_lag_ms=[500.0])


def _pressure(b: RunBundle) -> None:
    for t in range(8):
        b.metrics(1).write("metrics", ts_ns=WALL0 + t * SEC, mono_ns=MONO0 + t * SEC, pressure=True)


def _fatal(b: RunBundle) -> None:
    b.write_fatal("no markets", [], {})


def _crc(b: RunBundle) -> None:
    e = idx_entries(b.capture_dir / "shard_00.idx")[2]
    flip_byte(b.capture_dir / "shard_00.frames", e.offset + 64 + 3)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_gap, "heartbeat gaps over 2 s"),
        (_reconnect, "reconnects mid-run"),
        (_drops, "3 messages dropped"),
        (_lag_p99, "loop lag p99"),
        (_lag_max, "loop lag max 500.0 ms"),
        (_pressure, "sustained pressure for 7 s in shard_01.ndjson"),
        (_fatal, "fatal.json present (no markets)"),
        (_crc, "checksum mismatches"),
    ],
)
def test_each_failure_mode_fails_with_its_reason(
    tmp_path: Path, damage: Callable[[RunBundle], None], reason: str
) -> None:
    run = make_run(tmp_path, beats=4, lag_ms=(0.5,) * 200)
    with RunBundle.open(run) as b:
        damage(b)
    res = run_gate(run)
    assert not res.passed
    assert any(reason in r for r in res.reasons), res.reasons
    assert len(res.reasons) == 1, res.reasons


def test_run_without_heartbeats_or_lag_samples_fails(tmp_path: Path) -> None:
    res = run_gate(make_run(tmp_path, beats=0))
    assert "no heartbeat records in runlog.ndjson" in res.reasons
    assert "no loop_lag_ms samples in metrics/*.ndjson" in res.reasons
