"""`pmtape collect` that could not write its rows says so on stderr and exits 1, not 0."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pmtape.cli.app import app
from tests.conftest import fast_flags

runner = CliRunner()


def test_collect_no_capture_into_an_unwritable_archive_exits_1_and_says_why(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    flags = [*fast_flags(data), "--venue", "sim"]
    assert runner.invoke(app, ["discover", *flags]).exit_code == 0
    # A file where each table's directory should be: every Parquet write fails, as on a
    # read-only disk (chmod would not stop root), while the active set stays readable.
    for table in ("orderbook_snapshots", "trades"):
        (data / table).write_text("not a directory")
    result = runner.invoke(app, ["collect", "--no-capture", "--duration", "3", *flags])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("pmtape: error:")]
    assert len(errors) == 1
    assert "rows could not be written" in errors[0]
    assert str(data) in errors[0]


def test_collect_that_wrote_everything_exits_0(tmp_path: Path) -> None:
    data = tmp_path / "data"
    flags = [*fast_flags(data), "--venue", "sim"]
    assert runner.invoke(app, ["discover", *flags]).exit_code == 0
    result = runner.invoke(app, ["collect", "--no-capture", "--duration", "3", *flags])
    assert result.exit_code == 0, result.output
    assert "rows_dropped=0" in result.stdout
