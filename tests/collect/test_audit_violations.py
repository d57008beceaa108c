"""Each invariant violation a fake serves is found in the archive, with its reason in ``err``.

A collector (the real Polymarket adapter) runs against the fake on 127.0.0.1 with capture on
and one ``violation`` fault at a time; its Parquet rows must carry ``audit: <kind>`` and count
it, and ``pmtape rebuild`` of the captured run must find the same. A clean run has none.

Crossed, pair-drifting and off-tick books are valid wire data: they reach the book and the row
audits flag them. A price outside (0, 1) or a negative size cannot be held by a book: the
normalizer refuses the book (counted ``bad``), the book keeps its levels and is marked stale
with the audit's name until a good snapshot arrives.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pmtape.collect.collector import Collector
from pmtape.collect.rebuild import rebuild
from pmtape.config import load_config
from pmtape.discovery.service import discover_once
from pmtape.venues.kalshi.fake.faults import KalshiFakeFaults
from pmtape.venues.kalshi.fake.server import FakeKalshi
from pmtape.venues.kalshi.fake.violations import VIOLATIONS as KALSHI_VIOLATIONS
from pmtape.venues.limitless.fake.faults import LimitlessFakeFaults
from pmtape.venues.limitless.fake.server import FakeLimitless
from pmtape.venues.limitless.fake.violations import VIOLATIONS as LIMITLESS_VIOLATIONS
from pmtape.venues.polymarket.fake.faults import FakeFaults
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.polymarket.fake.violations import VIOLATIONS
from pmtape.venues.registry import create_adapter
from tests.helpers import eventually
from tests.venues.kalshi.util import KEY_ID, throwaway_key

REFUSED = ("size", "px_range")
"""Violations no book can hold: refused by the normalizer, the book's rows stale."""


def _rows(data_dir: Path) -> list[dict[str, Any]]:
    files = sorted((data_dir / "orderbook_snapshots").rglob("*.parquet"))
    return pa.concat_tables(pq.read_table(f) for f in files).to_pylist() if files else []


def _audited(rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        err = row["err"] or ""
        _, _, audits = err.partition("audit: ")
        if kind in audits.split(";")[0].split(","):
            out.append(row)
    return out


async def _run(
    tmp_path: Path, venue_name: str, fake: Any, overrides: dict[str, Any], env: dict[str, str]
) -> tuple[dict[str, Any], Path]:
    """Collect from a started fake with capture on until enough frames (and audits) arrived."""
    violation = fake.faults.violation
    cfg = load_config(
        None,
        overrides={
            **fake.config_overrides(),
            "data_dir": str(tmp_path),
            "top_k": 5,
            "writer.flush_s": 0.2,
            "collector.state_poll_s": 0.2,
            "capture.enabled": True,
            **overrides,
        },
        venues=[venue_name],
        env=env,
        use_default_path=False,
    )
    adapter = create_adapter(venue_name, cfg.venue(venue_name))
    await discover_once(cfg.data_dir, {venue_name: adapter})
    collector = Collector(cfg, {venue_name: adapter})
    venue = collector.venues[venue_name]
    stop = asyncio.Event()
    task = asyncio.create_task(collector.run_until(stop))
    try:
        counters = venue.counters  # frames: WebSocket; http_bodies: polled books
        await eventually(lambda: counters["frames"] + counters["http_bodies"] > 100, timeout_s=20)
        if violation:
            await eventually(lambda: counters[f"audit_{violation}"] >= 5, timeout_s=20)
        status = venue.status()
        status["ticks_known"] = len(venue.state.ticks)
    finally:
        stop.set()
        summary = await task
    assert summary.run_dir is not None
    return status, Path(summary.run_dir)


async def _collect(tmp_path: Path, violation: str, prob: float) -> tuple[dict[str, Any], Path]:
    faults = FakeFaults(violation=violation, violation_prob=prob, missing_hash_prob=0.0)
    async with FakePolymarket(markets=4, rate=300, seed=7, trade_ratio=0.2, faults=faults) as fake:
        overrides = {
            "venues.polymarket.max_subs": 8,
            "venues.polymarket.hot_count": 8,
            "venues.polymarket.snapshot_interval_ms_hot": 50,
        }
        return await _run(tmp_path / "live", "polymarket", fake, overrides, {})


async def _collect_kalshi(
    tmp_path: Path, violation: str, prob: float
) -> tuple[dict[str, Any], Path]:
    key_path, public = throwaway_key(tmp_path)
    faults = KalshiFakeFaults(violation=violation, violation_prob=prob)
    async with FakeKalshi(
        markets=4, rate=200, seed=9, keys={KEY_ID: public}, faults=faults
    ) as fake:
        overrides = {
            "venues.kalshi.mode": "ws",
            "venues.kalshi.private_key_path": str(key_path),
            "venues.kalshi.hot_count": 4,
            "venues.kalshi.max_subs": 4,
            "venues.kalshi.snapshot_interval_ms_hot": 50,
        }
        env = {"PMTAPE_VENUES__KALSHI__API_KEY_ID": KEY_ID}
        return await _run(tmp_path / "live", "kalshi", fake, overrides, env)


async def _collect_limitless(
    tmp_path: Path, violation: str, prob: float
) -> tuple[dict[str, Any], Path]:
    faults = LimitlessFakeFaults(violation=violation, violation_prob=prob)
    async with FakeLimitless(markets=8, rate=300, seed=71, faults=faults) as fake:
        overrides = {
            "venues.limitless.max_subs": 8,
            "venues.limitless.hot_count": 8,
            "venues.limitless.snapshot_interval_ms_hot": 50,
            "venues.limitless.poll_interval_s": 0.1,
            "venues.limitless.rate_limits": {"global": 500, "discovery": 50},
        }
        return await _run(tmp_path / "live", "limitless", fake, overrides, {})


def _check_archive(
    status: dict[str, Any], run_dir: Path, live_dir: Path, rebuilt_dir: Path, kind: str
) -> None:
    """Assert the live archive and the rebuild of its capture hold rows failing ``kind``."""
    assert status[f"audit_{kind}"] > 0
    live = _audited(_rows(live_dir), kind)
    assert live, f"no archived row says audit {kind}"
    if kind in REFUSED:
        assert status["norm_bad"] > 0
        assert all(r["status"] == "stale" for r in live)
        # Refused levels never reach a row.
        for row in live:
            assert all(0 < p < 1 for p in row["bid_px"] + row["ask_px"])
            assert all(s > 0 for s in row["bid_sz"] + row["ask_sz"])
    rebuild(run_dir, rebuilt_dir)
    rebuilt = _audited(_rows(rebuilt_dir), kind)
    key = ("ts_recv", "market_id", "outcome_id", "seq", "status", "err")
    assert {tuple(r[k] for k in key) for r in rebuilt} >= {tuple(r[k] for k in key) for r in live}


COLLECT = {"polymarket": _collect, "kalshi": _collect_kalshi, "limitless": _collect_limitless}
CASES = [
    *(("polymarket", kind) for kind in VIOLATIONS),
    *(("kalshi", kind) for kind in KALSHI_VIOLATIONS),
    *(("limitless", kind) for kind in LIMITLESS_VIOLATIONS),
]
TICKS = {"polymarket": True, "kalshi": True, "limitless": False}
"""Whether the venue states a tick (Limitless does not: its off-tick audit is off)."""


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "kind"), CASES)
async def test_each_violation_a_fake_serves_is_archived_with_its_reason(
    tmp_path: Path, venue: str, kind: str
) -> None:
    status, run_dir = await COLLECT[venue](tmp_path, kind, 1.0)
    _check_archive(status, run_dir, tmp_path / "live", tmp_path / "rebuilt", kind)


@pytest.mark.asyncio
@pytest.mark.parametrize("venue", sorted(COLLECT))
async def test_a_clean_run_archives_no_audit_failure(tmp_path: Path, venue: str) -> None:
    status, run_dir = await COLLECT[venue](tmp_path, "", 0.0)
    assert status.get("audit_rows", 0) == 0
    assert status["norm_bad"] == 0
    assert status["subs"] > 0
    # Every book's tick is known, so audited, where the venue states ticks.
    assert status["ticks_known"] == (status["subs"] if TICKS[venue] else 0)
    rows = _rows(tmp_path / "live")
    assert rows
    assert not [r for r in rows if "audit:" in (r["err"] or "")]
    rebuild(run_dir, tmp_path / "rebuilt")
    assert not [r for r in _rows(tmp_path / "rebuilt") if "audit:" in (r["err"] or "")]
