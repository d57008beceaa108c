"""The periodic status line shows what used to pass in silence, and counts what the summary does.

* apply errors (exceptions caught while applying a frame to the books);
* HTTP error answers per status, also in the run bundle's metrics, their bodies in the capture;
* ``rows_written`` is snapshot rows durably in Parquet, in the status line and the summary alike.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from pmtape.capture.format import FrameKind
from pmtape.capture.reader import CaptureReader
from pmtape.collect.collector import Collector
from pmtape.collect.rebuild import rebuild
from pmtape.config import load_config
from pmtape.core.book import Book
from pmtape.core.events import Event
from pmtape.discovery.service import discover_once
from pmtape.venues.base import Normalizer
from pmtape.venues.kalshi.fake.server import FakeKalshi
from pmtape.venues.sim.adapter import SimAdapter
from pmtape.venues.sim.normalize import SimNormalizer
from tests.collect.status import status_fields
from tests.collect.util import discovered_collector
from tests.conftest import fast_config
from tests.helpers import eventually


class _BuggyNormalizer(SimNormalizer):
    """Fails on every 50th frame, the way a normalizer bug would."""

    def ingest(self, payload: bytes, ts_recv_ms: int, books: dict[str, Book]) -> list[Event]:
        if self.stats["frames"] % 50 == 49:
            self.stats["frames"] += 1
            raise RuntimeError("simulated normalizer bug")
        return super().ingest(payload, ts_recv_ms, books)


class _BuggyAdapter(SimAdapter):
    def new_normalizer(self) -> Normalizer:
        return _BuggyNormalizer()


@pytest.mark.asyncio
async def test_apply_errors_are_in_the_status_line(tmp_path: Path) -> None:
    cfg = fast_config(tmp_path / "data", **{"capture.enabled": False})
    adapter = _BuggyAdapter(cfg.venues.sim)
    await discover_once(cfg.data_dir, {"sim": adapter})
    collector = Collector(cfg, {"sim": adapter})
    venue = collector.venues["sim"]
    stop = asyncio.Event()
    task = asyncio.create_task(collector.run_until(stop))
    try:
        await eventually(lambda: venue.counters["apply_errors"] >= 3)
        fields = status_fields(collector.status_lines(), "sim")
    finally:
        stop.set()
        await task
    assert int(fields["apply_errors"]) >= 3


@pytest.mark.asyncio
async def test_rows_written_means_the_same_in_the_status_line_and_the_summary(
    tmp_path: Path,
) -> None:
    collector = await discovered_collector(fast_config(tmp_path / "data"), capture=False)
    summary = await collector.run_until(asyncio.Event(), 3.0)
    writer = status_fields(collector.status_lines(), "writer")
    assert summary.trades_written > 0  # so rows counted across both tables would differ
    assert int(writer["rows_written"]) == summary.rows_written > 0
    assert int(writer["trades_written"]) == summary.trades_written


@pytest.mark.asyncio
async def test_http_errors_are_counted_by_status_and_their_bodies_captured(tmp_path: Path) -> None:
    async with FakeKalshi(markets=4, rate=50, seed=5) as kalshi:
        overrides: dict[str, Any] = {
            **kalshi.config_overrides(),
            "data_dir": str(tmp_path),
            "venues.kalshi.mode": "rest",
            "venues.kalshi.poll_interval_s": 0.2,
            "venues.kalshi.cooldown_base_s": 0.1,
            "venues.kalshi.cooldown_max_s": 0.2,
            "venues.kalshi.audit_every_minutes": 0,
            "collector.state_poll_s": 0.5,
        }
        cfg = load_config(
            None, overrides=overrides, venues=["kalshi"], env={}, use_default_path=False
        )
        collector = await discovered_collector(cfg)
        assert collector.run is not None
        kal = collector.venues["kalshi"]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        try:
            # Books applied and snapshotted first: the rebuild below must have rows to give.
            await eventually(lambda: kal.counters["rows_submitted"] > 0, timeout_s=20)
            kalshi.faults.http_error_statuses = (503,)
            kalshi.faults.http_error_prob = 1.0
            await eventually(lambda: kal.http_errors[503] >= 3, timeout_s=20)
            kalshi.faults.http_error_prob = 0.0
            fields = status_fields(collector.status_lines(), "kalshi")
            run_dir = collector.run.path
            await eventually(lambda: _metrics_errors(run_dir).get("503", 0) >= 3, timeout_s=10)
        finally:
            stop.set()
            await task
    assert fields["http_errors"] == f"503:{fields_count(fields)}"
    assert fields_count(fields) >= 3
    answers = [
        f for f in CaptureReader(run_dir).frames()
        if f.kind is FrameKind.HTTP_RESPONSE and f.http is not None and f.http.status == 503
    ]  # fmt: skip
    assert len(answers) == kal.http_errors[503] == kalshi.stats["http_error_503"]
    assert all(b"service_unavailable" in f.payload for f in answers)
    assert kal.counters["norm_bad"] == 0  # error bodies are kept, never fed to the books
    rebuilt = rebuild(run_dir, tmp_path / "rebuilt")  # nor fed to the books by a rebuild
    assert rebuilt.http_error_answers == len(answers)
    assert rebuilt.bad_frames == 0
    assert rebuilt.snapshot_rows > 0


def fields_count(fields: dict[str, str]) -> int:
    return int(fields["http_errors"].split(":")[1])


def _metrics_errors(run_dir: Path) -> dict[str, int]:
    path = run_dir / "metrics" / "shard_00.ndjson"
    lines = path.read_text().splitlines() if path.exists() else []
    return json.loads(lines[-1]).get("http_errors", {}) if lines else {}
