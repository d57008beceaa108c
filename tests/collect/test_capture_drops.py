"""Capture drops are episodes: a WARNING when they start, an INFO and a run log record at the end.

A full disk is injected through the capture writer's file layer (its ``segments``): every block
write fails with ENOSPC while the disk is "full", as it would on a real one.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from pmtape.capture.format import BlockHeader
from pmtape.capture.options import WriterStats
from pmtape.collect.capture_run import CaptureDrops
from tests.collect.status import status_fields
from tests.collect.util import discovered_collector
from tests.conftest import fast_config
from tests.helpers import eventually

LOGGER = "pmtape.collect.capture_run"


def _records(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    lines = (run_dir / "runlog.ndjson").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


def _ends(run_dir: Path) -> list[dict[str, Any]]:
    return [r for r in _records(run_dir, "capture_drops") if r["event"] == "end"]


def _levels(caplog: pytest.LogCaptureFixture, level: int) -> int:
    return sum(1 for r in caplog.records if r.name == LOGGER and r.levelno == level)


@pytest.mark.asyncio
async def test_a_full_disk_is_one_episode_logged_counted_and_marked_in_the_run_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    cfg = fast_config(tmp_path / "data", **{"capture.flush_interval_s": 0.1})
    collector = await discovered_collector(cfg)
    run = collector.run
    assert run is not None
    writer = run.capture.writers[run.shards["sim"]]
    real_write = writer.segments.write_block
    disk = {"full": False}

    def write_block(hdr: BlockHeader, body: bytes) -> int:
        if disk["full"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(hdr, body)

    monkeypatch.setattr(writer.segments, "write_block", write_block)
    stop = asyncio.Event()
    task = asyncio.create_task(collector.run_until(stop))
    try:
        await eventually(lambda: writer.stats().durable_frames > 0)
        disk["full"] = True
        await eventually(lambda: any(_records(run.path, "capture_drops")), timeout_s=15)
        assert _levels(caplog, logging.WARNING) == 1
        dropped = writer.stats().dropped_frames
        await eventually(lambda: writer.stats().dropped_frames > dropped)  # still dropping
        assert _levels(caplog, logging.WARNING) == 1  # once per episode, not per block
        disk["full"] = False
        await eventually(lambda: bool(_ends(run.path)), timeout_s=15)
        venue_line = status_fields(collector.status_lines(), "sim")
    finally:
        stop.set()
        summary = await task
    (end,) = _ends(run.path)
    assert end["frames"] > 0
    assert end["frames"] == summary.capture_dropped_frames == writer.stats().dropped_frames
    assert end["start_ns"] < end["end_ns"]
    assert end["start_utc"] <= end["end_utc"]
    assert not end["open_at_stop"]
    assert "No space left" in end["error"]
    assert int(venue_line["capture_dropped"]) == summary.capture_dropped_frames
    assert _levels(caplog, logging.WARNING) == 1
    assert _levels(caplog, logging.INFO) == 1


def _stats(dropped: int, durable: int) -> WriterStats:
    return WriterStats(0, 0, 0, durable, 0, 0, 0, 0, dropped, 0, 0, 0, None, None, "OSError: x")


class _Log:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, kind: str, /, **fields: Any) -> None:
        self.records.append({"kind": kind, **fields})


def test_an_episode_ends_only_once_frames_are_durable_again_and_spans_its_drops() -> None:
    runlog = _Log()
    drops = CaptureDrops("v", 0, runlog)  # type: ignore[arg-type]
    drops.check(_stats(0, 10), 1_000)
    drops.check(_stats(5, 10), 2_000)  # drops began after the clean check at 1_000
    drops.check(_stats(9, 10), 3_000)
    drops.check(_stats(9, 10), 4_000)  # a quiet second: nothing written, nothing dropped
    assert [r["event"] for r in runlog.records] == ["start"]
    drops.check(_stats(9, 12), 5_000)  # written again, no new drop: over
    drops.check(_stats(9, 14), 6_000)
    end = runlog.records[-1]
    assert (end["event"], end["start_ns"], end["end_ns"], end["frames"]) == ("end", 1_000, 3_000, 9)
    assert drops.episodes == 1
    drops.check(_stats(11, 14), 7_000)  # a second episode, still going at stop
    drops.end(8_000, at_stop=True)
    last = runlog.records[-1]
    assert (last["start_ns"], last["end_ns"], last["frames"], last["open_at_stop"]) == (
        6_000,
        7_000,
        2,
        True,
    )
    assert drops.episodes == 2
