"""``pmtape history``: backfill and status from the command line, and one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmtape.cli.app import app
from pmtape.history.limits import LatencyGovernor
from tests.history.util import ThreadedFake, bronze_prices, bronze_rows, price_truth, truth_rows

runner = CliRunner()


def test_backfill_then_status_report_the_same_rows(tmp_path: Path) -> None:
    with ThreadedFake(markets=4, history_trades=80, seed=41) as fake:
        args = ["history", "backfill", "-d", str(tmp_path), "--page-size", "30", "--json"]
        args += ["--set", f"venues.polymarket.data_url={fake.urls['data_url']}"]
        args += ["--set", f"venues.polymarket.gamma_url={fake.urls['gamma_url']}"]
        result = runner.invoke(app, args)
        truth = truth_rows(fake.data_api.truth([]))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["trades"]["rows_stored"] == sum(truth.values())
    assert bronze_rows(tmp_path) == truth
    status = runner.invoke(app, ["history", "status", "-d", str(tmp_path), "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["trades"]["rows"] == sum(truth.values())


def test_all_backfills_trades_then_prices_and_status_shows_both(tmp_path: Path) -> None:
    with ThreadedFake(markets=3, history_trades=60, seed=43) as fake:
        args = ["history", "backfill", "-d", str(tmp_path), "--mode", "all", "--json"]
        for name in ("data_url", "gamma_url", "clob_url"):
            args += ["--set", f"venues.polymarket.{name}={fake.urls[name]}"]
        result = runner.invoke(app, args)
        truth = price_truth(fake)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [report[t]["stop_reason"] for t in ("trades", "prices")] == ["complete", "complete"]
    assert bronze_prices(tmp_path) == truth
    status = runner.invoke(app, ["history", "status", "-d", str(tmp_path)])
    assert status.exit_code == 0, status.output
    assert "prices" in status.output
    assert "trades" in status.output
    shown = json.loads(
        runner.invoke(app, ["history", "status", "-d", str(tmp_path), "--json"]).stdout
    )
    assert shown["prices"]["rows"] == report["prices"]["summary"]["rows"]


def test_status_of_an_empty_data_dir_says_so(tmp_path: Path) -> None:
    result = runner.invoke(app, ["history", "status", "-d", str(tmp_path)])
    assert result.exit_code == 0
    assert "no history" in result.output


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--since", "last tuesday"], "expected a date"),
        (["--mode", "leaderboard"], "not built yet"),
        (["--mode", "everything"], "expected one of"),
        (["--venue", "kalshi"], "no history backfill"),
    ],
)
def test_bad_flags_are_one_line_and_nonzero(tmp_path: Path, flags: list[str], words: str) -> None:
    result = runner.invoke(app, ["history", "backfill", "-d", str(tmp_path), *flags])
    assert result.exit_code != 0
    assert words in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "history").exists()


def test_the_governor_pauses_only_while_answers_come_slow() -> None:
    gov = LatencyGovernor(factor=4.0, floor_s=0.5, max_pause_s=5.0)
    for _ in range(5):
        gov.observe(0.05)
    assert gov.pause_s() == 0.0
    for _ in range(10):
        gov.observe(3.0)  # the venue throttles by delaying
    assert 0.0 < gov.pause_s() <= 5.0
    for _ in range(30):
        gov.observe(0.05)
    assert gov.pause_s() == 0.0
