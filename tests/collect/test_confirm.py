"""Start-up confirmation: a capture run whose venue sends no data fails, naming the venue."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pmtape.collect.collector import Collector
from pmtape.config import load_config
from pmtape.discovery.service import discover_once
from pmtape.venues.polymarket.fake.faults import FakeFaults
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.registry import create_adapter
from tests.conftest import fast_config

VENUE = "polymarket"


@pytest.mark.asyncio
async def test_a_venue_that_sends_nothing_fails_the_run_with_fatal_json(tmp_path: Path) -> None:
    async with FakePolymarket(markets=4, faults=FakeFaults(silent=True)) as fake:
        overrides = {
            **fake.config_overrides(),
            "data_dir": str(tmp_path),
            "capture.confirm_timeout_s": 1.5,
        }
        cfg = load_config(None, overrides=overrides, venues=[VENUE], env={}, use_default_path=False)
        adapter = create_adapter(VENUE, cfg.venue(VENUE))
        await discover_once(cfg.data_dir, {VENUE: adapter})
        summary = await Collector(cfg, {VENUE: adapter}).run_until(asyncio.Event(), 60)
    assert summary.fatal is not None
    assert "no data from polymarket" in summary.fatal
    assert summary.duration_s < 30  # stopped by the check, not by the duration
    assert summary.venues[VENUE]["subs"] == 8  # it had subscribed; nothing came back
    fatal = json.loads((Path(summary.run_dir or "") / "fatal.json").read_text())
    assert "capture.confirm_timeout_s=1.5" in fatal["reason"]


def test_a_venue_that_delivers_is_confirmed_and_runs_on(tmp_path: Path) -> None:
    cfg = fast_config(tmp_path / "data", **{"capture.confirm_timeout_s": 0.5})
    adapters = {"sim": create_adapter("sim", cfg.venue("sim"))}

    async def go():  # type: ignore[no-untyped-def]
        await discover_once(cfg.data_dir, adapters)
        return await Collector(cfg, adapters).run_until(asyncio.Event(), 2.0)

    summary = asyncio.run(go())
    assert summary.fatal is None
    assert summary.rows_written > 0


def test_confirm_min_events_above_what_arrives_fails_and_zero_timeout_disables(
    tmp_path: Path,
) -> None:
    strict = {"capture.confirm_timeout_s": 0.5, "capture.confirm_min_events": 10**9}
    off = {"capture.confirm_timeout_s": 0, "capture.confirm_min_events": 10**9}
    results = {}
    for name, extra in (("strict", strict), ("off", off)):
        cfg = fast_config(tmp_path / name, **extra)
        adapters = {"sim": create_adapter("sim", cfg.venue("sim"))}

        async def go(cfg=cfg, adapters=adapters):  # type: ignore[no-untyped-def]
            await discover_once(cfg.data_dir, adapters)
            return await Collector(cfg, adapters).run_until(asyncio.Event(), 2.0)

        results[name] = asyncio.run(go())
    assert results["strict"].fatal is not None
    assert "no data from sim" in results["strict"].fatal
    assert results["off"].fatal is None


def test_collect_exits_non_zero_with_one_line_naming_the_silent_venue(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "pmtape"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMTAPE_")}
    fake = subprocess.Popen(
        [*base, "fake-venue", "polymarket", "--markets", "4", "--silent-after", "0.001"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert fake.stdout is not None
        sets = json.loads(fake.stdout.readline())["set"]
        flags = ["--data-dir", str(tmp_path)]
        for pair in [*sets, "venues.sim.enabled=false", "capture.confirm_timeout_s=2"]:
            flags += ["--set", pair]
        subprocess.run([*base, "discover", *flags], check=True, env=env, capture_output=True)
        proc = subprocess.run(
            [*base, "collect", "--duration", "60", *flags],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        fake.terminate()
        fake.communicate(timeout=10)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("pmtape: error:")]
    assert len(errors) == 1
    assert "no data from polymarket within 2s" in errors[0]
