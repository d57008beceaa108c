"""Price history backfill against the fake CLOB's ``/prices-history``: windows, fidelity, faults."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pyarrow.parquet as pq
import pytest

from pmtape.capture.reader import CaptureReader
from pmtape.history.backfill import (
    BackfillResult,
    BackfillSettings,
    backfill_prices,
    backfill_trades,
)
from pmtape.history.bronze import read_table
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.polymarket.history import PRICES_WINDOW_S, PolymarketHistory
from tests.history.util import bronze_prices, manifest_ok, price_truth

pytestmark = pytest.mark.asyncio


def _hooks(fake: FakePolymarket) -> PolymarketHistory:
    return PolymarketHistory(
        data_url=fake.urls["data_url"],
        gamma_url=fake.urls["gamma_url"],
        clob_url=fake.urls["clob_url"],
        page_size=100,
    )


async def _both(fake: FakePolymarket, data_dir: Path, **kw: object) -> BackfillResult:
    settings = BackfillSettings(data_dir=data_dir, flush_interval_s=0.2, **kw)  # type: ignore[arg-type]
    await backfill_trades(_hooks(fake), settings)
    return await backfill_prices(_hooks(fake), settings)


async def test_every_price_point_once_at_the_fidelity_obtained(tmp_path: Path) -> None:
    async with FakePolymarket(markets=6, history_trades=120, seed=2) as fake:
        result = await _both(fake, tmp_path)
        truth = price_truth(fake)
        resolved = {
            t for m, cid in fake.markets_of([]) if fake.data_api.resolved(cid) for t in m.token_ids
        }
    assert result.stop_reason == "complete"
    assert sum(truth.values()) > 100
    assert bronze_prices(tmp_path) == truth  # every historical point once, none invented
    assert {fid for _, _, _, fid in truth} == {60, 720}  # both fallbacks were needed
    assert resolved
    assert all(fid == 720 for tok, _, _, fid in truth if tok in resolved)
    table = read_table(tmp_path / "history", "prices").to_pydict()
    keys = list(zip(table["token_id"], table["ts_s"], strict=True))
    assert len(keys) == len(set(keys))  # live points too: no point twice
    spans = zip(table["ts_s"], table["window_start_s"], table["window_end_s"], strict=True)
    assert all(lo <= ts <= hi and hi - lo < PRICES_WINDOW_S for ts, lo, hi in spans)
    s = result.summary
    assert s["empty"] > 0
    assert s["errors"] == 0
    assert manifest_ok(tmp_path)
    ledger = pq.read_table(tmp_path / "history" / "ledger.parquet").to_pylist()
    prices = [r for r in ledger if r["table"] == "prices"]
    assert {r["source"] for r in prices} == {"polymarket.clob_prices_history"}
    assert sum(r["rows"] for r in prices if r["dt"] is not None) == s["rows"]
    assert {r["status"] for r in prices} <= {"complete", "empty"}
    bodies = sum(1 for _ in CaptureReader(result.run_dir).frames())
    assert bodies >= s["requests"]  # every answer is in the capture, listing pages too


async def test_errors_are_retried_and_never_counted_as_empty(tmp_path: Path) -> None:
    async with FakePolymarket(markets=4, history_trades=80, seed=7) as fake:
        settings = BackfillSettings(data_dir=tmp_path, flush_interval_s=0.2)
        await backfill_trades(_hooks(fake), settings)
        fake.faults.http_error_prob = 0.3  # 429 and 500, with Retry-After
        fake.faults.retry_after_s = 0.01
        result = await backfill_prices(_hooks(fake), settings)
        truth = price_truth(fake)
    assert result.summary["errors"] > 0
    assert bronze_prices(tmp_path) == truth  # an error recorded as empty would lose a window
    assert result.stop_reason == "complete"


async def test_a_second_run_adds_nothing(tmp_path: Path) -> None:
    async with FakePolymarket(markets=3, history_trades=60, seed=9) as fake:
        first = await _both(fake, tmp_path)
        again = await backfill_prices(
            _hooks(fake), BackfillSettings(data_dir=tmp_path, flush_interval_s=0.2)
        )
        truth = price_truth(fake)
    assert first.rows_stored > 0
    assert again.rows_stored == 0
    assert again.summary["requests"] == first.summary["requests"]
    assert bronze_prices(tmp_path) == truth


async def test_a_window_longer_than_fourteen_days_is_refused(tmp_path: Path) -> None:
    async with FakePolymarket(markets=1, history_trades=5, seed=4) as fake:
        token = fake.generator.active_markets[0].token_ids[0]
        url = fake.urls["clob_url"] + "/prices-history"
        lo = 1_790_000_000
        async with aiohttp.ClientSession() as session:
            ok = {"market": token, "startTs": lo, "endTs": lo + PRICES_WINDOW_S - 1}
            async with session.get(url, params=ok) as answer:
                assert answer.status == 200
            long = {**ok, "endTs": lo + 15 * 86_400}
            async with session.get(url, params=long) as answer:
                assert answer.status == 400
                assert "error" in await answer.json()
