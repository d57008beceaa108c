"""The chaos run (``make chaos``): the real adapter against a faulty fake, for minutes.

Every 30 s the fake drops every socket, 5% of REST answers are errors, about 1/1000 frames is
malformed (and as many are of an unknown type), and once mid-run the fake goes silent while
still answering PING. The collector must end with no crash, every book back to ok, exactly
as many bad and unknown frames counted as the fake delivered, and a gate report that names
the reconnects. Length: ``PMTAPE_CHAOS_SECS`` (default 600).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from pmtape.collect.collector import Collector
from pmtape.config import load_config
from pmtape.core.book import BookStatus
from pmtape.core.clock import now_ms
from pmtape.discovery.service import discover_once
from pmtape.ops.gate import run_gate
from pmtape.venues.polymarket.fake.faults import FakeFaults
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.registry import create_adapter
from tests.helpers import eventually

SILENCE_S = 10.0
CHAOS_SECS = float(os.environ.get("PMTAPE_CHAOS_SECS", "600"))


@pytest.mark.slow
@pytest.mark.timeout(int(CHAOS_SECS + 600))
@pytest.mark.asyncio
async def test_chaos_run_ends_healthy_with_every_fault_counted(tmp_path: Path) -> None:
    duration = CHAOS_SECS
    faults = FakeFaults(
        drop_every_s=30, http_error_prob=0.05, malformed_prob=0.001, unknown_prob=0.001
    )
    async with FakePolymarket(markets=30, rate=400, seed=11, faults=faults) as fake:
        overrides = {
            **fake.config_overrides(),
            "data_dir": str(tmp_path),
            "venues.polymarket.max_subs": 60,
            "venues.polymarket.hot_count": 20,
            "venues.polymarket.assets_per_connection": 20,
            "venues.polymarket.data_silence_s": SILENCE_S,
            "venues.polymarket.audit_every_minutes": 1,
            "venues.polymarket.reconnect_backoff_max_s": 5,
        }
        cfg = load_config(
            None, overrides=overrides, venues=["polymarket"], env={}, use_default_path=False
        )
        adapter = create_adapter("polymarket", cfg.venue("polymarket"))
        await discover_once(cfg.data_dir, {"polymarket": adapter})
        collector = Collector(cfg, {"polymarket": adapter}, run_id="chaos")
        venue = collector.venues["polymarket"]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        try:
            await asyncio.sleep(duration / 2)  # chaos, as configured
            faults.silent = True  # one silent stall: PONGs still answered
            await asyncio.sleep(SILENCE_S * 2)
            faults.silent = False
            await asyncio.sleep(duration / 2)
            # Calm the venue, then every book must come back to ok by itself.
            faults.drop_every_s = 0
            faults.malformed_prob = faults.unknown_prob = faults.http_error_prob = 0
            await fake.quiesce(timeout_s=30)
            fake.resume()
            await eventually(lambda: _all_ok(venue), timeout_s=120)
        finally:
            stop.set()
            summary = await task
        stats = fake.snapshot_stats()
    assert summary.fatal is None
    norm = venue.state.normalizer.stats
    assert stats["ws_malformed_delivered"] > 0
    assert norm["bad"] == stats["ws_malformed_delivered"]
    assert norm["unknown"] == stats["ws_unknown_delivered"]
    assert venue.counters["session_disconnected"] >= 2  # the drops and the silent stall
    gate = run_gate(Path(summary.run_dir or ""))
    assert not gate.passed
    assert any("reconnect" in reason for reason in gate.reasons)


def _all_ok(venue: object) -> bool:
    books = venue.state.books  # type: ignore[attr-defined]
    now = now_ms()
    return bool(books) and all(b.status(now, None)[0] is BookStatus.OK for b in books.values())
