"""The active-instruments snapshot: atomic writes, and a reader that keeps the last good set."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from pmtape.core.instrument import Instrument
from pmtape.store.active import ActiveSetReader, active_snapshot_path, write_active_snapshot

LOGGER = "pmtape.store.active"
ASOF = 1_714_557_600_000  # 2024-05-01T10:00:00Z


def instruments(count: int, venue: str = "v") -> list[Instrument]:
    return [
        Instrument(
            venue=venue,
            market_id=f"m{n}",
            instrument_id=f"t{n}",
            poll_key=f"t{n}",
            slug=f"market-{n}",
            expiration=ASOF + n,
            tags=["x"],
            activity=float(n),
            raw={"id": n, "nested": {"a": [1, 2]}},
        )
        for n in range(count)
    ]


def replace_with(path: Path, payload: bytes) -> None:
    """Swap the file the way a (buggy) writer would: a new inode, whatever the content."""
    tmp = path.with_suffix(".swap")
    tmp.write_bytes(payload)
    os.replace(tmp, path)


def warnings(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING)


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    path = active_snapshot_path(tmp_path, "v")
    write_active_snapshot(path, "v", instruments(3), ASOF)
    return path


def test_round_trip(snapshot: Path) -> None:
    doc = json.loads(snapshot.read_bytes())
    assert (doc["venue"], doc["count"], doc["asof_ts_utc"]) == (
        "v",
        3,
        "2024-05-01T10:00:00.000+00:00",
    )
    assert list(doc["instruments"]) == ["v:m0:t0", "v:m1:t1", "v:m2:t2"]
    reader = ActiveSetReader(snapshot)
    assert reader.poll() is True
    assert reader.instruments() == instruments(3)
    assert reader.poll() is False  # unchanged file: not re-read
    assert reader.loads == 1


def test_a_new_snapshot_is_picked_up(snapshot: Path) -> None:
    reader = ActiveSetReader(snapshot)
    reader.poll()
    write_active_snapshot(snapshot, "v", instruments(5)[2:], ASOF + 1)
    assert reader.poll() is True
    assert [i.market_id for i in reader.instruments()] == ["m2", "m3", "m4"]


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "missing", "wrong_count", "wrong_shape", "empty"],
)
def test_damaged_snapshot_keeps_last_good_set_and_logs_once(
    snapshot: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    reader = ActiveSetReader(snapshot)
    reader.poll()
    good = snapshot.read_bytes()
    if damage == "missing":
        snapshot.unlink()
    elif damage == "garbage":
        replace_with(snapshot, b"\x00\xffnot json")
    elif damage == "truncated":
        replace_with(snapshot, good[: len(good) // 2])
    elif damage == "empty":
        replace_with(snapshot, b"")
    elif damage == "wrong_count":
        doc = json.loads(good)
        doc["count"] = 7
        replace_with(snapshot, json.dumps(doc).encode())
    else:
        replace_with(snapshot, b'{"venue": "v", "instruments": []}')
    caplog.set_level(logging.WARNING, logger=LOGGER)
    for _ in range(20):
        assert reader.poll() is False
    assert reader.instruments() == instruments(3)
    assert warnings(caplog) == 1
    assert reader.failed_polls >= 1


def test_recovery_then_a_new_problem_is_logged_again(
    snapshot: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    reader = ActiveSetReader(snapshot)
    reader.poll()
    replace_with(snapshot, b"{")
    reader.poll()
    replace_with(snapshot, b"[")  # same kind of problem, different file: still one line
    reader.poll()
    snapshot.unlink()
    reader.poll()
    reader.poll()
    assert warnings(caplog) == 2  # corrupt, missing
    write_active_snapshot(snapshot, "v", instruments(1), ASOF)
    assert reader.poll() is True
    assert len(reader.instruments()) == 1
    snapshot.unlink()
    reader.poll()
    assert warnings(caplog) == 3


def test_missing_from_the_start_is_empty_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    reader = ActiveSetReader(active_snapshot_path(tmp_path, "v"))
    assert [reader.poll() for _ in range(5)] == [False] * 5
    assert reader.instruments() == []
    assert reader.snapshot is None
    assert warnings(caplog) == 1


def test_writer_leaves_no_temp_files_and_rejects_other_venues(snapshot: Path) -> None:
    write_active_snapshot(snapshot, "v", instruments(2), ASOF)
    assert [p.name for p in snapshot.parent.iterdir()] == [snapshot.name]
    with pytest.raises(ValueError, match="does not belong"):
        write_active_snapshot(snapshot, "v", instruments(2, venue="w"), ASOF)
    assert ActiveSetReader(snapshot).poll() is True
