"""The backfill's buckets against a fake that enforces its limit over sliding windows."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmtape.history.backfill import BackfillSettings, backfill_trades
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.polymarket.history import PolymarketHistory
from tests.history.util import bronze_rows, truth_rows

pytestmark = pytest.mark.asyncio

LIMIT = 40
WINDOW_S = 0.5


def _hooks(fake: FakePolymarket) -> PolymarketHistory:
    hooks = PolymarketHistory(
        data_url=fake.urls["data_url"], gamma_url=fake.urls["gamma_url"], page_size=10
    )
    # The venue's documented limit, shrunk to a half-second window to keep the test short.
    hooks.limits = {**hooks.limits, "data_trades": LIMIT}
    hooks.window_s = WINDOW_S
    return hooks


async def test_default_buckets_never_meet_a_429(tmp_path: Path) -> None:
    async with FakePolymarket(markets=8, history_trades=150, seed=61) as fake:
        fake.faults.data_trades_limit = (LIMIT, WINDOW_S)
        result = await backfill_trades(_hooks(fake), BackfillSettings(data_dir=tmp_path))
        truth = truth_rows(fake.data_api.truth([]))
        refused = fake.data_api.rate_limited
    assert result.summary["requests"] > 2 * LIMIT  # the limit held over several windows
    assert refused == 0
    assert result.summary["errors"] == 0
    assert bronze_rows(tmp_path) == truth


async def test_without_buckets_the_429s_are_counted_and_nothing_is_lost(tmp_path: Path) -> None:
    async with FakePolymarket(markets=8, history_trades=150, seed=61) as fake:
        fake.faults.data_trades_limit = (LIMIT, WINDOW_S)
        settings = BackfillSettings(data_dir=tmp_path, lift_limits=True, workers=4)
        result = await backfill_trades(_hooks(fake), settings)
        truth = truth_rows(fake.data_api.truth([]))
        refused = fake.data_api.rate_limited
    assert refused > 0
    assert result.summary["errors"] == refused  # each 429 counted, none taken as empty
    assert result.summary.get("keys_failed", 0) == 0
    assert bronze_rows(tmp_path) == truth
