"""A Kalshi sequence gap, seen from the collector: book stale, repaired, and in the run log."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from pmtape.config import load_config
from pmtape.venues.kalshi.fake.server import FakeKalshi
from tests.collect.util import discovered_collector
from tests.helpers import eventually
from tests.venues.kalshi.util import KEY_ID, throwaway_key


@pytest.mark.asyncio
async def test_gap_marks_the_book_stale_is_repaired_and_logged(tmp_path: Path) -> None:
    key_path, public = throwaway_key(tmp_path)
    async with FakeKalshi(markets=4, rate=200, seed=9, keys={KEY_ID: public}) as fake:
        overrides = {
            **fake.config_overrides(),
            "data_dir": str(tmp_path / "data"),
            "venues.kalshi.mode": "ws",
            "venues.kalshi.private_key_path": str(key_path),
            "venues.kalshi.hot_count": 4,
            "venues.kalshi.max_subs": 4,
        }
        env = {"PMTAPE_VENUES__KALSHI__API_KEY_ID": KEY_ID}
        cfg = load_config(
            None, overrides=overrides, venues=["kalshi"], env=env, use_default_path=False
        )
        collector = await discovered_collector(cfg, run_id="gap")
        venue = collector.venues["kalshi"]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        try:
            books = venue.state.books
            await eventually(lambda: len(books) == 4 and all(b.seq > 3 for b in books.values()))
            ticker = next(iter(books))
            seq_before = books[ticker].seq
            fake.channel.inject_gap(ticker)
            # Stale then repaired can take a few ms against a local fake: watch the counts.
            await eventually(lambda: venue.counters["session_disconnected"] >= 1, timeout_s=15)
            await eventually(
                lambda: books[ticker].stale_reason is None and books[ticker].seq > seq_before + 1
            )
        finally:
            stop.set()
            await task
    runlog = (tmp_path / "data" / "captures" / "gap" / "runlog.ndjson").read_text().splitlines()
    gaps = [r for r in map(json.loads, runlog) if r.get("reason") == "seq_gap"]
    assert gaps
    assert gaps[0]["kind"] == "disconnect"
    assert ticker in gaps[0]["keys_sample"]
    assert gaps[0]["detail_expected"] + 1 == gaps[0]["got"]
    assert venue.counters["session_event_errors"] == 0


@pytest.mark.asyncio
async def test_a_refused_signature_is_an_auth_error_in_the_run_log_without_a_storm(
    tmp_path: Path,
) -> None:
    key_path, _ = throwaway_key(tmp_path, "ours.pem")
    _, theirs = throwaway_key(tmp_path, "theirs.pem")  # the fake knows another key
    async with FakeKalshi(markets=2, rate=50, seed=4, keys={KEY_ID: theirs}) as fake:
        overrides = {
            **fake.config_overrides(),
            "data_dir": str(tmp_path / "data"),
            "venues.kalshi.mode": "ws",
            "venues.kalshi.private_key_path": str(key_path),
        }
        env = {"PMTAPE_VENUES__KALSHI__API_KEY_ID": KEY_ID}
        cfg = load_config(
            None, overrides=overrides, venues=["kalshi"], env=env, use_default_path=False
        )
        collector = await discovered_collector(cfg, run_id="auth")
        venue = collector.venues["kalshi"]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        try:
            await eventually(lambda: venue.counters["session_error"] >= 1)
            await asyncio.sleep(2.0)  # time a storm would need to show itself
        finally:
            stop.set()
            summary = await task
        attempts = fake.snapshot_stats()["ws_handshakes"]
    assert summary.fatal is None
    assert attempts == 1  # refused once, then a long wait: no retry storm
    runlog = (tmp_path / "data" / "captures" / "auth" / "runlog.ndjson").read_text().splitlines()
    errors = [r for r in map(json.loads, runlog) if r["kind"] == "session_error"]
    assert [e["detail_kind"] for e in errors] == ["auth"]
    assert errors[0]["error_type"] == "VenueAuthError"
