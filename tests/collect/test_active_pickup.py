"""The collector follows a new active snapshot without a restart, and survives a broken one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pmtape.store.active import ActiveSetReader, active_snapshot_path, write_active_snapshot
from tests.collect.util import discovered_collector
from tests.conftest import fast_config
from tests.helpers import eventually


@pytest.mark.asyncio
async def test_new_snapshot_is_picked_up_and_a_corrupt_one_ignored(tmp_path: Path) -> None:
    cfg = fast_config(tmp_path / "data")
    collector = await discovered_collector(cfg, capture=False)
    path = active_snapshot_path(cfg.data_dir, "sim")
    reader = ActiveSetReader(path)
    reader.poll()
    everything = reader.instruments()
    venue = collector.venues["sim"]
    stop = asyncio.Event()
    run = asyncio.create_task(collector.run_until(stop, 30))
    try:
        await eventually(lambda: len(venue.instruments) == len(everything))
        # Discovery publishes a smaller active set: the collector follows it, no restart.
        fewer = everything[:10]
        write_active_snapshot(path, "sim", fewer, 0)
        await eventually(lambda: len(venue.instruments) == 10)
        await eventually(lambda: set(venue.state.by_key) <= {i.instrument_key for i in fewer})
        # A corrupt file (or a missing one) keeps the last good set.
        path.write_text("{ not json")
        await eventually(lambda: venue.active.failed_polls >= 1)
        assert len(venue.instruments) == 10
        path.unlink()
        await eventually(lambda: venue.active.failed_polls >= 2)
        assert len(venue.instruments) == 10
    finally:
        stop.set()
        summary = await run
    assert summary.fatal is None


@pytest.mark.asyncio
async def test_a_closed_market_rebuilds_the_universe_once_not_every_pass(tmp_path: Path) -> None:
    cfg = fast_config(tmp_path / "data")
    collector = await discovered_collector(cfg, capture=False)
    venue = collector.venues["sim"]
    stop = asyncio.Event()
    run = asyncio.create_task(collector.run_until(stop, 30))
    try:
        await eventually(lambda: len(venue.state.by_key) > 0)
        gone = next(iter(venue.state.by_key))
        before = venue.counters["universe_updates"]
        venue.state.retired.add(gone)  # what a market_resolved event does
        await eventually(lambda: gone not in venue.instruments)
        assert venue.counters["universe_updates"] == before + 1
        await asyncio.sleep(2.5)  # two more schedule passes: nothing new, no rebuild
        assert venue.counters["universe_updates"] == before + 1
    finally:
        stop.set()
        summary = await run
    assert summary.fatal is None
