"""Trade backfill against the fake Polymarket's Data API: exact truth, faults, bad pages."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pmtape.capture.reader import CaptureReader
from pmtape.history.backfill import BackfillResult, BackfillSettings, backfill_trades
from pmtape.history.state import read_state
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.polymarket.history import PolymarketHistory
from tests.history.util import bronze_rows, manifest_ok, truth_rows

pytestmark = pytest.mark.asyncio


def _hooks(fake: FakePolymarket, page_size: int = 40) -> PolymarketHistory:
    return PolymarketHistory(
        data_url=fake.urls["data_url"], gamma_url=fake.urls["gamma_url"], page_size=page_size
    )


async def _run(fake: FakePolymarket, data_dir: Path, **kw: object) -> BackfillResult:
    settings = BackfillSettings(data_dir=data_dir, flush_interval_s=0.2, **kw)  # type: ignore[arg-type]
    return await backfill_trades(_hooks(fake), settings)


def _empty_markets(fake: FakePolymarket) -> int:
    return sum(1 for m, cid in fake.markets_of([]) if not fake.data_api.history.trades(m, cid))


async def test_every_trade_once_with_repeated_page_edges(tmp_path: Path) -> None:
    async with FakePolymarket(markets=8, history_trades=150, seed=3) as fake:
        fake.faults.edge_repeat_prob = 0.5
        result = await _run(fake, tmp_path)
        truth = truth_rows(fake.data_api.truth([]))
    assert sum(truth.values()) > 500
    assert bronze_rows(tmp_path) == truth
    assert result.stop_reason == "complete"
    s = result.summary
    assert s["repeats"] > 0  # the edge did repeat, and the repeats were dropped
    assert s["rows"] == sum(truth.values())
    assert s["keys_complete"] + s["keys_empty"] == result.keys
    assert manifest_ok(tmp_path)
    # The ledger has a row per market and day, summing to what bronze holds.
    ledger = pq.read_table(tmp_path / "history" / "ledger.parquet").to_pylist()
    assert sum(r["rows"] for r in ledger if r["dt"] is not None) == sum(truth.values())
    assert {r["status"] for r in ledger} <= {"complete", "empty"}


async def test_a_second_run_adds_nothing(tmp_path: Path) -> None:
    async with FakePolymarket(markets=4, history_trades=60, seed=5) as fake:
        await _run(fake, tmp_path)
        again = await _run(fake, tmp_path)
        truth = truth_rows(fake.data_api.truth([]))
    assert again.rows_stored == 0
    assert bronze_rows(tmp_path) == truth


async def test_errors_are_counted_and_never_empty(tmp_path: Path) -> None:
    async with FakePolymarket(markets=8, history_trades=150, seed=12) as fake:
        fake.faults.http_error_prob = 0.25
        fake.faults.retry_after_s = 0.01
        result = await _run(fake, tmp_path)
        truth = truth_rows(fake.data_api.truth([]))
        stats = fake.stats
        empty_truth = _empty_markets(fake)
    injected = stats["http_error_429"] + stats["http_error_500"]
    gamma_errors = stats["http GET /gamma/markets/keyset"] - 1  # one listing page succeeded
    s = result.summary
    assert s["errors"] > 0
    assert s["errors"] == injected - gamma_errors
    assert s["requests"] == stats["http GET /data/v2/trades"]
    assert s["requests"] == s["pages"] + s["errors"]
    assert bronze_rows(tmp_path) == truth
    decoys = result.keys - len(list(fake.markets_of([])))
    assert s.get("keys_empty", 0) == empty_truth + decoys
    assert s.get("keys_failed", 0) == 0


@pytest.mark.parametrize("kind", ["malformed", "truncated", "wrong_type"])
async def test_bad_pages_are_counted_kept_and_retried(tmp_path: Path, kind: str) -> None:
    async with FakePolymarket(markets=5, history_trades=80, seed=13) as fake:
        fake.faults.bad_page_prob = 0.3
        fake.faults.bad_page_kinds = (kind,)
        result = await _run(fake, tmp_path)
        truth = truth_rows(fake.data_api.truth([]))
        bad = fake.data_api.bad_pages
    assert bad > 0
    assert result.summary["malformed"] == bad
    assert bronze_rows(tmp_path) == truth
    frames = list(CaptureReader(result.run_dir).frames())
    assert all(f.stream == "polymarket-history" and f.http is not None for f in frames)
    urls = [f.http.url for f in frames if f.http is not None]
    trades = [u for u in urls if u.endswith("/v2/trades")]
    assert len(trades) == result.summary["requests"]  # every body kept, the bad ones too
    assert len(urls) > len(trades)  # and the market listing's


async def test_a_feed_that_only_fails_never_moves_its_cursor(tmp_path: Path) -> None:
    async with FakePolymarket(markets=4, history_trades=60, seed=17) as fake:
        fake.faults.bad_page_prob = 1.0
        failed = await _run(fake, tmp_path, max_attempts=2)
        state = read_state(tmp_path / "history")
        assert failed.rows_stored == 0
        assert all(c.cursor is None and not c.done for c in state.cursors["trades"].values())
        assert failed.summary["keys_failed"] == failed.keys
        assert failed.summary["malformed"] == 2 * failed.keys
        fake.faults.bad_page_prob = 0.0
        await _run(fake, tmp_path)
        truth = truth_rows(fake.data_api.truth([]))
    assert bronze_rows(tmp_path) == truth


async def test_since_stops_each_feed_at_the_floor(tmp_path: Path) -> None:
    async with FakePolymarket(markets=5, history_trades=100, seed=19) as fake:
        trades = fake.data_api.truth([])
        floor = sorted(t.timestamp for t in trades)[len(trades) // 2]
        first = await _run(fake, tmp_path, since_s=floor)
        assert bronze_rows(tmp_path) == truth_rows(t for t in trades if t.timestamp >= floor)
        assert first.summary.get("keys_partial", 0) == 0
        await _run(fake, tmp_path)  # no floor: read on past the old one
    assert bronze_rows(tmp_path) == truth_rows(trades)


async def test_fresh_starts_over_without_doubling_anything(tmp_path: Path) -> None:
    async with FakePolymarket(markets=4, history_trades=60, seed=7) as fake:
        first = await _run(fake, tmp_path)
        again = await _run(fake, tmp_path, fresh=True)
        truth = truth_rows(fake.data_api.truth([]))
    assert again.rows_stored == first.rows_stored == sum(truth.values())
    assert bronze_rows(tmp_path) == truth
    assert manifest_ok(tmp_path)
