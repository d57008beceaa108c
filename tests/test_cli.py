"""The command line as a user meets it: clear one-line errors, nothing started on bad config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmtape import __version__
from pmtape.cli.app import app
from pmtape.config import load as config_load
from tests.mine.archive import bucket_path, ms, snap, write_garbage, write_rows

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
        (["--set", "writer.bucket_minutes=7"], "from --set writer.bucket_minutes"),
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


def test_unknown_set_key_is_an_error_naming_set(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "show", "--set", "nosuch.key=1"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "pmtape: config error: nosuch: unknown key (from --set nosuch.key)"
    ]
    assert result.stdout == ""


def test_stray_pmtape_env_variable_is_warned_once_and_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(config_load, "_warned", set())  # warnings are once per process
    monkeypatch.setenv("PMTAPE_CHAOS_SECS", "600")
    result = runner.invoke(app, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "PMTAPE_CHAOS_SECS" in line]
    assert len(warnings) == 1
    assert "ignored" in warnings[0]
    assert "Traceback" not in result.output
    assert json.loads(result.stdout)["top_k"] == 50


def test_config_show_is_indented_and_json_is_one_line() -> None:
    pretty = runner.invoke(app, ["config", "show"])
    one_line = runner.invoke(app, ["config", "show", "--json"])
    assert pretty.exit_code == one_line.exit_code == 0
    assert json.loads(pretty.stdout) == json.loads(one_line.stdout)
    assert len(one_line.stdout.strip().splitlines()) == 1
    lines = pretty.stdout.splitlines()
    assert len(lines) > 100
    assert max(len(line) for line in lines) < 120
    assert '  "top_k": 50,' in lines


def test_version_flag_and_command_agree() -> None:
    flag = runner.invoke(app, ["--version"])
    command = runner.invoke(app, ["version"])
    assert flag.exit_code == command.exit_code == 0
    assert flag.stdout.strip() == command.stdout.strip() == __version__


@pytest.mark.parametrize("hours", ["-3", "0"])
def test_mine_hours_must_be_positive(hours: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["mine", "--data-dir", str(tmp_path), "--hours", hours])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"pmtape: error: --hours must be positive, got {hours}"
    ]


TOKEN_ID = "7" * 77  # the length of a Polymarket token id


def book(i: int) -> dict[str, list[tuple[float, float]]]:
    return {"bids": [(0.4, 10.0 + i)], "asks": [(0.6, 5.0)]}


def _archive_with_damage(data: Path) -> list[Path]:
    at = ms("2024-05-01T10:00:00")
    rows = [
        snap(at + i * 1000, "0xmarket", outcome_id=TOKEN_ID, seq=i, **book(i)) for i in range(3)
    ]
    write_rows(data, rows)
    garbage = write_garbage(data, "v1", ms("2024-05-01T10:05:00"))
    empty = bucket_path(data, "v1", ms("2024-05-01T10:10:00"))
    empty.write_bytes(b"")
    return [garbage, empty]


def test_mine_skips_unreadable_files_and_says_so_once(tmp_path: Path) -> None:
    bad = _archive_with_damage(tmp_path)
    args = ["mine", "--data-dir", str(tmp_path), "--start", "2024-05-01T10:00"]
    result = runner.invoke(app, [*args, "--end", "2024-05-01T11:00"])
    assert result.exit_code == 1, result.output  # the run finished, but not on everything
    assert "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("pmtape: warning: v1: skipped 2 unreadable files: ")
    for path in bad:
        assert str(path) in line
    assert "(not a Parquet file, or truncated)" in line
    assert "(empty file)" in line
    assert "3 snapshots of 1 books" in result.stdout
    allowed = runner.invoke(app, [*args, "--end", "2024-05-01T11:00", "--allow-damage"])
    assert allowed.exit_code == 0, allowed.output
    assert "skipped 2 unreadable files" in allowed.stderr


def test_mine_tables_show_whole_77_digit_ids(tmp_path: Path) -> None:
    _archive_with_damage(tmp_path)
    args = ["mine", "--data-dir", str(tmp_path), "--start", "2024-05-01T10:00", "--allow-damage"]
    result = runner.invoke(app, [*args, "--end", "2024-05-01T11:00"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if "0xmarket" in line]
    assert len(rows) == 3  # one row in each ranking
    assert all(TOKEN_ID in row for row in rows)


def test_mine_json_reports_skipped_files(tmp_path: Path) -> None:
    bad = _archive_with_damage(tmp_path)
    args = ["mine", "--data-dir", str(tmp_path), "--start", "2024-05-01T10:00", "--json"]
    result = runner.invoke(app, [*args, "--end", "2024-05-01T11:00"])
    assert result.exit_code == 1, result.output
    [doc] = json.loads(result.stdout)
    assert sorted(s["path"] for s in doc["skipped"]) == sorted(str(p) for p in bad)
    assert "skipped 2 unreadable files" in result.stderr
