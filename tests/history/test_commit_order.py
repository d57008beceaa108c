"""The commit order that makes a crash harmless, tested at its narrowest window."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmtape.core.errors import CaptureCorrupt, StoreError, UsageError
from pmtape.history.backfill import BackfillSettings, backfill_trades
from pmtape.history.bronze import read_table
from pmtape.history.persist import Persister
from pmtape.history.state import CursorStore, read_state
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.polymarket.history import PolymarketHistory
from tests.history.util import bronze_rows, manifest_ok, truth_rows

pytestmark = pytest.mark.asyncio


class Died(Exception):
    """Stands for the process dying between writing parts and committing the cursor."""


def _hooks(fake: FakePolymarket) -> PolymarketHistory:
    return PolymarketHistory(
        data_url=fake.urls["data_url"], gamma_url=fake.urls["gamma_url"], page_size=30
    )


async def test_parts_written_but_never_committed_are_dropped_and_fetched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushes = 0

    def dies_on_third_commit(self: Persister) -> None:
        nonlocal flushes
        flushes += 1
        if flushes == 3:
            raise Died

    async with FakePolymarket(markets=5, history_trades=120, seed=51) as fake:
        truth = truth_rows(fake.data_api.truth([]))
        settings = BackfillSettings(data_dir=tmp_path, flush_rows=100, flush_interval_s=30)
        original = Persister.__init__

        def patched(self: Persister, *args: object, **kw: object) -> None:
            original(self, *args, **kw)  # type: ignore[arg-type]
            self.before_commit = lambda: dies_on_third_commit(self)

        monkeypatch.setattr(Persister, "__init__", patched)
        with pytest.raises(StoreError) as raised:
            await backfill_trades(_hooks(fake), settings)
        assert isinstance(raised.value.__cause__, Died)
        monkeypatch.undo()
        history = tmp_path / "history"
        on_disk = read_table(history, "trades").num_rows
        committed = read_state(history)
        assert on_disk > sum(
            c.rows for e in committed.ledger["trades"].values() for c in e.dts.values()
        )
        store = CursorStore.open(history)  # what the next run does first
        assert store.removed_parts  # the uncommitted part is gone
        store.close()
        result = await backfill_trades(_hooks(fake), BackfillSettings(data_dir=tmp_path))
    assert result.stop_reason == "complete"
    assert bronze_rows(tmp_path) == truth
    assert manifest_ok(tmp_path)


async def test_a_timeout_stops_gracefully_and_the_next_run_finishes(tmp_path: Path) -> None:
    async with FakePolymarket(markets=5, history_trades=400, seed=53) as fake:
        fake.faults.slow_ms = 50
        truth = truth_rows(fake.data_api.truth([]))
        first = await backfill_trades(
            _hooks(fake), BackfillSettings(data_dir=tmp_path, timeout_s=0.3, workers=1)
        )
        assert first.stop_reason == "stopped"
        assert 0 < first.rows_stored < sum(truth.values())
        assert not bronze_rows(tmp_path) - truth
        fake.faults.slow_ms = 0
        second = await backfill_trades(_hooks(fake), BackfillSettings(data_dir=tmp_path))
    assert second.stop_reason == "complete"
    assert first.rows_stored + second.rows_stored == sum(truth.values())
    assert bronze_rows(tmp_path) == truth


async def test_a_history_dir_that_cannot_be_written_is_one_error_and_commits_nothing(
    tmp_path: Path,
) -> None:
    (tmp_path / "history").mkdir()
    (tmp_path / "history" / "trades").write_text("not a directory")
    async with FakePolymarket(markets=3, history_trades=60, seed=55) as fake:
        with pytest.raises(StoreError, match="storing pages failed"):
            await backfill_trades(_hooks(fake), BackfillSettings(data_dir=tmp_path))
    assert read_state(tmp_path / "history").parts == {}


async def test_one_run_at_a_time_and_a_damaged_cursor_file_is_one_error(tmp_path: Path) -> None:
    history = tmp_path / "history"
    first = CursorStore.open(history)
    with pytest.raises(UsageError, match="another backfill"):
        CursorStore.open(history)
    first.close()
    CursorStore.open(history).close()
    (history / "cursor.json").write_text('{"version": 1, "parts": {"trades/x')
    with pytest.raises(CaptureCorrupt, match="damaged"):
        CursorStore.open(history)
    (history / "cursor.json").unlink()
    CursorStore.open(history).close()  # the failed open released its lock
