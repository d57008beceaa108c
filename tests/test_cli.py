"""The command line as a user meets it: clear one-line errors, nothing started on bad config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmtape.cli.app import app

runner = CliRunner()


def test_bad_config_key_is_one_line_exit_2_and_starts_nothing(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[venues.sim]\nmax_subs = 0\n")
    data = tmp_path / "data"
    result = runner.invoke(app, ["collect", "--config", str(cfg), "--data-dir", str(data)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "venues.sim.max_subs" in lines[0]
    assert str(cfg) in lines[0]
    assert not data.exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--set", "nonsense"], "expected KEY=VALUE"),
        (["--set", "writer.bucket_minutes=7"], "from flag --bucket-minutes"),
        (["--venue", "nasdaq"], "unknown venue"),
        (["--config", "/no/such/file.toml"], "config file not found"),
    ],
)
def test_flag_errors(args: list[str], needle: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["discover", "--data-dir", str(tmp_path), *args])
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMTAPE_VENUES__SIM__API_KEY", "hunter2")
    result = runner.invoke(app, ["config", "show", "--set", "top_k=7"])
    assert result.exit_code == 0
    shown = json.loads(result.output)
    assert shown["top_k"] == 7
    assert shown["venues"]["sim"]["api_key"] == "**********"
    assert "hunter2" not in result.output


def test_discover_writes_the_layout(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["discover", "--data-dir", str(tmp_path), "--set", "venues.sim.markets=20"]
    )
    assert result.exit_code == 0, result.output
    snap = json.loads(
        (tmp_path / "state" / "venue=sim" / "active_instruments.snapshot.json").read_text()
    )
    assert snap["venue"] == "sim"
    assert snap["count"] == len(snap["instruments"]) > 0
    assert all(k.startswith("sim:") for k in snap["instruments"])
    universe = list((tmp_path / "metadata" / "venue=sim").glob("date=*/universe.jsonl"))
    assert len(universe) == 1
    first = json.loads(universe[0].read_text().splitlines()[0])
    assert {"market_id", "outcome_ids", "title", "close_ts", "status", "tags"} <= set(first)
    assert list((tmp_path / "markets" / "venue=sim").glob("date=*/markets_*.jsonl"))


def test_mine_without_archive_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["mine", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no snapshots" in result.output
