"""The coverage ledger: every interval of every instrument accounted for, with its reason.

The tracker is judged on hand-made steps; the collector against the real adapters and their
fakes (a forced disconnect, a venue outage, wrong book hashes, a gap between two runs), and
the ledger ``pmtape rebuild`` derives from the capture must equal the live one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from pmtape.cli.app import app
from pmtape.collect.coverage import CoverageTracker
from pmtape.collect.rebuild import rebuild
from pmtape.config import load_config
from pmtape.core.instrument import Instrument
from pmtape.ops.coverage import coverage_report
from pmtape.store.coverage import read_coverage
from pmtape.store.rows import SnapshotBatch
from pmtape.venues.limitless.fake.server import FakeLimitless
from pmtape.venues.polymarket.fake.server import FakePolymarket
from tests.collect.util import discovered_collector
from tests.helpers import eventually

A, B, C = ("m1", "yes"), ("m1", "no"), ("m2", "yes")
_BY_POLL = {
    f"p-{m}-{o}": Instrument(venue="v", market_id=m, instrument_id=o, poll_key=f"p-{m}-{o}")
    for m, o in (A, B, C)
}


def _batch(*rows: tuple[tuple[str, str], str, str | None]) -> SnapshotBatch:
    batch = SnapshotBatch()
    for (market, outcome), status, err in rows:
        batch.market_id.append(market)
        batch.outcome_id.append(outcome)
        batch.status.append(status)
        batch.err.append(err)
    return batch


def _ledger(tracker: CoverageTracker) -> dict[tuple[int, tuple[str, str]], tuple[str, str | None]]:
    rows = tracker.take().to_pylist()
    return {(r["ts"], (r["market_id"], r["outcome_id"])): (r["status"], r["reason"]) for r in rows}


def test_each_interval_of_each_instrument_gets_a_status_and_a_reason() -> None:
    t = CoverageTracker("v", interval_ms=1000)
    t.universe_changed([A, B, C], [], 10_000)
    t.kept_changed([A, B], [])
    # interval 10s: A live, B live then a disconnect of B's socket; C not kept.
    t.rows(_batch((A, "ok", None), (B, "ok", None)), 0, 10_100)
    t.session_event("disconnected", {"keys": ["p-m1-no"], "reason": "closed"}, 10_200, _BY_POLL)
    t.rows(_batch((A, "ok", None), (B, "stale", "ws-0 disconnected")), 0, 10_600)
    # interval 11s: B's book fails its hash; A only ever had a partial book (still live).
    t.rows(_batch((A, "partial", "no bids"), (B, "stale", "hash mismatch")), 0, 11_100)
    # interval 12s: every poll fails with 503 (venue-wide); 13s: 429.
    t.session_event("error", {"keys": ["p-m1-yes"], "answer_status": 503}, 12_050, _BY_POLL)
    t.rows(_batch((A, "ok", None), (B, "ok", None)), 0, 12_100)
    t.session_event("error", {"keys": ["p-m1-yes"], "answer_status": 429}, 13_050, _BY_POLL)
    t.rows(_batch((A, "ok", None), (B, "ok", None)), 0, 13_100)
    # interval 14s: a new book's rows before its first data do not count against it.
    t.kept_changed([C], [])
    t.rows(_batch((A, "ok", None), (C, "stale", "no data yet")), 0, 14_100)
    t.rows(
        _batch(
            (C, "ok", None),
        ),
        0,
        14_900,
    )
    t.finish(15_000)
    got = _ledger(t)
    assert got[(10_000, A)] == ("ok", None)
    assert got[(10_000, B)] == ("degraded", "disconnected")
    assert got[(10_000, C)] == ("missing", "not_subscribed")
    assert got[(11_000, A)] == ("ok", None)
    assert got[(11_000, B)] == ("missing", "hash_mismatch")
    assert got[(12_000, A)] == got[(12_000, B)] == ("degraded", "venue_down")
    assert got[(12_000, C)] == ("missing", "not_subscribed")  # not kept: not held back
    assert got[(13_000, B)] == ("degraded", "rate_limited")
    assert got[(14_000, C)] == ("ok", None)
    assert got[(15_000, A)] == ("missing", "not_subscribed")  # the run ended at its start
    assert {ts for ts, _ in got} == {10_000, 11_000, 12_000, 13_000, 14_000, 15_000}


def test_a_book_that_never_gets_data_is_missing_and_instruments_that_leave_are_kept_once() -> None:
    t = CoverageTracker("v", interval_ms=1000)
    t.universe_changed([A, C], [], 0)
    t.kept_changed([A], [])
    t.rows(_batch((A, "stale", "no data yet")), 0, 100)
    t.universe_changed([], [C], 500)  # C leaves mid-interval: still accounted for in it
    t.rows(_batch((A, "stale", "no data yet")), 0, 1_100)
    t.finish(1_500)
    got = _ledger(t)
    assert got[(0, A)] == got[(1_000, A)] == ("missing", "stale")
    assert got[(0, C)] == ("missing", "not_subscribed")
    assert (1_000, C) not in got


def test_a_failed_connection_concerns_only_the_books_it_left_without_data() -> None:
    t = CoverageTracker("v", interval_ms=1000)
    t.universe_changed([A, B], [], 0)
    t.kept_changed([A, B], [])
    t.session_event("error", {"http_status": 503, "error": "refused"}, 100, _BY_POLL)
    t.rows(_batch((A, "ok", None), (B, "stale", "ws-1 disconnected")), 0, 200)
    t.finish(900)
    got = _ledger(t)
    assert got[(0, A)] == ("ok", None)
    assert got[(0, B)] == ("missing", "venue_down")


def _ledger_rows(root: Path) -> list[dict[str, Any]]:
    table = read_coverage(root).drop_columns(["date"])
    order = [(c, "ascending") for c in ("venue", "ts", "market_id", "outcome_id")]
    return table.sort_by(order).to_pylist()


def _reasons(rows: list[dict[str, Any]], venue: str) -> Counter[tuple[str, str | None]]:
    return Counter((r["status"], r["reason"]) for r in rows if r["venue"] == venue)


async def _collect(
    tmp_path: Path, run_id: str, script: Any, extra: dict[str, Any] | None = None
) -> Any:
    async with contextlib.AsyncExitStack() as stack:
        pm = await stack.enter_async_context(FakePolymarket(markets=3, rate=100, seed=1))
        li = await stack.enter_async_context(FakeLimitless(markets=3, rate=50, seed=3))
        overrides: dict[str, Any] = {
            **pm.config_overrides(),
            **li.config_overrides(),
            "data_dir": str(tmp_path / "data"),
            "collector.coverage_interval_s": 1,
            "writer.flush_s": 0.5,
            "venues.polymarket.snapshot_interval_ms_hot": 200,
            "venues.polymarket.snapshot_interval_ms_warm": 200,
            "venues.polymarket.reconnect_backoff_base_s": 0.2,
            "venues.limitless.poll_interval_s": 0.2,
            "venues.limitless.snapshot_interval_ms_hot": 200,
            "venues.limitless.snapshot_interval_ms_warm": 200,
            **(extra or {}),
        }
        cfg = load_config(
            None,
            overrides=overrides,
            venues=["polymarket", "limitless"],
            env={},
            use_default_path=False,
        )
        collector = await discovered_collector(cfg, run_id=run_id)
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        try:
            await eventually(
                lambda: all(v.counters["rows_submitted"] > 10 for v in collector.venues.values()),
                timeout_s=30,
            )
            await script(pm, li, collector)
        finally:
            stop.set()
            summary = await task
    assert summary.fatal is None
    return cfg, summary


@pytest.mark.asyncio
async def test_a_forced_disconnect_and_an_outage_show_in_the_ledger_and_rebuild_agrees(
    tmp_path: Path,
) -> None:
    async def incidents(pm: FakePolymarket, li: FakeLimitless, collector: Any) -> None:
        await asyncio.sleep(1.2)
        await pm.disconnect_all()
        await asyncio.sleep(1.2)
        li.outage(True)
        lim = collector.venues["limitless"]
        await eventually(lambda: lim.http_errors[503] >= 2, timeout_s=10)
        await asyncio.sleep(1.5)
        li.outage(False)
        await asyncio.sleep(2.5)

    cfg, summary = await _collect(tmp_path, "incidents", incidents)
    live = _ledger_rows(cfg.data_dir)
    pm = _reasons(live, "polymarket")
    li = _reasons(live, "limitless")
    assert pm[("ok", None)] > 0
    assert li[("ok", None)] > 0
    assert pm[("degraded", "disconnected")] + pm[("missing", "disconnected")] >= 6
    assert li[("degraded", "venue_down")] + li[("missing", "venue_down")] >= 6
    assert not {r for _, r in pm} & {"venue_down", "rate_limited", "hash_mismatch"}
    # Every interval of the run has a row for each of the venue's instruments.
    for venue in ("polymarket", "limitless"):
        per_ts = Counter(r["ts"] for r in live if r["venue"] == venue)
        assert len(set(per_ts.values())) == 1, per_ts

    rebuilt = rebuild(Path(summary.run_dir), tmp_path / "rebuilt")
    assert rebuilt.coverage_rows == len(live)
    assert _ledger_rows(tmp_path / "rebuilt") == live

    result = CliRunner().invoke(
        app, ["coverage", "--data-dir", str(cfg.data_dir), "--hours", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    reasons = {v["venue"]: v["reasons"] for v in report["venues"]}
    assert reasons["polymarket"].get("disconnected", 0) >= 6
    assert reasons["limitless"].get("venue_down", 0) >= 6
    gaps = {(g["venue"], g["reason"]) for g in report["gaps"]}
    assert {("polymarket", "disconnected"), ("limitless", "venue_down")} <= gaps
    text = CliRunner().invoke(app, ["coverage", "--data-dir", str(cfg.data_dir)])
    assert text.exit_code == 0
    assert "venue_down" in text.output


@pytest.mark.asyncio
async def test_wrong_book_hashes_show_as_hash_mismatch(tmp_path: Path) -> None:
    async def bad_hashes(pm: FakePolymarket, li: FakeLimitless, collector: Any) -> None:
        pm.faults.bad_hash_prob = 1.0
        await pm.disconnect_all()  # the books come again, every one with a wrong hash
        poly = collector.venues["polymarket"]
        await eventually(lambda: poly.state.normalizer.stats["hash_mismatch"] >= 6, timeout_s=10)
        await asyncio.sleep(2.5)

    cfg, _ = await _collect(tmp_path, "hashes", bad_hashes)
    pm = _reasons(_ledger_rows(cfg.data_dir), "polymarket")
    assert pm[("missing", "hash_mismatch")] + pm[("degraded", "hash_mismatch")] >= 6


@pytest.mark.asyncio
async def test_minutes_between_two_runs_are_collector_down(tmp_path: Path) -> None:
    async def short(pm: FakePolymarket, li: FakeLimitless, collector: Any) -> None:
        await asyncio.sleep(1.5)

    await _collect(tmp_path, "first", short)
    await asyncio.sleep(3.2)  # nothing runs: at least two whole intervals
    cfg, _ = await _collect(tmp_path, "second", short)
    ledger = read_coverage(cfg.data_dir)
    lo, hi = pa.compute.min_max(ledger.column("ts")).values()
    report = coverage_report(cfg.data_dir, lo.as_py(), hi.as_py() + 1000)
    assert [r.run_id for r in report.runs] == ["first", "second"]
    for venue in report.venues:
        assert venue.by_reason.get("collector_down", 0) >= 2 * venue.instruments
    down = [g for g in report.gaps if g.reason == "collector_down"]
    assert {g.venue for g in down} == {"polymarket", "limitless"}
    first_stop = report.runs[0].stop_ms
    second_start = report.runs[1].start_ms
    for gap in down:
        assert first_stop - 1000 <= gap.start_ms
        assert gap.end_ms <= second_start + 1000
