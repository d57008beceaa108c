"""A collector whose venue task dies writes the fatal records and says so, flushing what it had."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

from pmtape.capture.bundle import read_last_frames
from pmtape.collect.collector import Collector
from pmtape.discovery.service import discover_once
from pmtape.net.session import FrameSink, VenueSession
from pmtape.ops.gate import run_gate
from pmtape.venues.sim.adapter import SimAdapter
from tests.conftest import fast_config

FRAME = b'{"type":"unheard-of"}'


class _DyingSession(VenueSession):
    """Sends one frame, then fails the way a bug would."""

    @property
    def connected(self) -> bool:
        return True

    async def run(self, sink: FrameSink) -> None:
        sink.on_session_event("boom-ws", "connected", {})
        await asyncio.sleep(1.5)  # long enough for the initial subscription
        sink.on_frame("boom-ws", FRAME, 1)
        raise RuntimeError("simulated bug in a session")

    async def subscribe(self, keys: Sequence[str]) -> None:
        return None

    async def unsubscribe(self, keys: Sequence[str]) -> None:
        return None


class _DyingAdapter(SimAdapter):
    def new_session(self) -> VenueSession:
        return _DyingSession()


def test_fatal_run_writes_fatal_records(tmp_path: Path) -> None:
    cfg = fast_config(tmp_path / "data")
    adapter = _DyingAdapter(cfg.venues.sim)

    async def go():
        await discover_once(cfg.data_dir, {"sim": adapter})
        return await Collector(cfg, {"sim": adapter}).run_until(asyncio.Event(), 20)

    summary = asyncio.run(go())
    assert summary.fatal is not None
    assert "simulated bug" in summary.fatal
    assert summary.duration_s < 15  # the run stopped instead of limping on
    run_dir = Path(summary.run_dir or "")
    fatal = json.loads((run_dir / "fatal.json").read_text())
    assert "simulated bug" in fatal["reason"]
    missing = json.loads((run_dir / "missing_tokens.json").read_text())
    assert len(missing) == cfg.venues.sim.max_subs  # no book ever arrived
    assert FRAME in read_last_frames(run_dir / "last_frames_shard_00.bin")
    gate = run_gate(run_dir)
    assert not gate.passed
    assert any("fatal" in r for r in gate.reasons)
