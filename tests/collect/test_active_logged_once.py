"""A missing active snapshot is logged once per episode by a collect run, not once per reader."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from pmtape.cli.common import adapters_for
from pmtape.collect.collector import Collector
from pmtape.discovery.service import discover_once
from pmtape.store.active import active_snapshot_path
from tests.conftest import fast_config
from tests.helpers import eventually


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def active_warnings() -> Iterator[list[str]]:
    recorder = Recorder()
    logger = logging.getLogger("pmtape.store.active")
    logger.addHandler(recorder)
    try:
        yield recorder.messages
    finally:
        logger.removeHandler(recorder)


@pytest.mark.asyncio
async def test_missing_snapshot_is_logged_once_per_episode(
    tmp_path: Path, active_warnings: list[str]
) -> None:
    cfg = fast_config(tmp_path / "data")
    adapters = adapters_for(cfg)
    collector = Collector(cfg, adapters, capture=True)  # the manifest reads the file too
    venue = collector.venues["sim"]
    path = active_snapshot_path(cfg.data_dir, "sim")
    stop = asyncio.Event()
    run = asyncio.create_task(collector.run_until(stop, 60))
    try:
        await eventually(lambda: venue.active.failed_polls >= 3)
        assert [m for m in active_warnings if "is missing" in m] == active_warnings
        assert len(active_warnings) == 1
        # Discovery publishes: the episode ends. The file goes again: a new episode, one line.
        await discover_once(cfg.data_dir, adapters)
        await eventually(lambda: venue.active.loads == 1)
        path.unlink()
        failed = venue.active.failed_polls
        await eventually(lambda: venue.active.failed_polls >= failed + 3)
        assert len(active_warnings) == 2
    finally:
        stop.set()
        summary = await run
    assert summary.fatal is None
