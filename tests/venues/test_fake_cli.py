"""``pmtape fake-venue NAME`` as a user meets it: pasteable flags that enable the venue, and
bad knobs refused with one line before anything is bound."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmtape.cli.app import app
from pmtape.cli.fake_knobs import check_knobs
from pmtape.core.errors import UsageError

PMTAPE = [sys.executable, "-m", "pmtape"]
FAKES = ("polymarket", "kalshi", "limitless")
runner = CliRunner()


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PMTAPE_")}


@pytest.mark.parametrize("venue", FAKES)
def test_printed_flags_pasted_into_discover_cover_that_venue(venue: str, tmp_path: Path) -> None:
    env = _clean_env()
    fake = subprocess.Popen(
        [*PMTAPE, "fake-venue", venue, "--markets", "4", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert fake.stdout is not None
        info = json.loads(fake.stdout.readline())
        flags = shlex.split(info["flags"])
        assert flags == [a for pair in info["set"] for a in ("--set", pair)]
        data = tmp_path / "data"
        # cwd is empty: no config file; the flags alone must enable the venue.
        done = subprocess.run(
            [*PMTAPE, "discover", "--data-dir", str(data), *flags],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
    finally:
        fake.send_signal(signal.SIGINT)
        _, fake_err = fake.communicate(timeout=10)
    assert done.returncode == 0, done.stderr
    assert fake.returncode == 0, fake_err
    universes = list((data / "metadata" / f"venue={venue}").glob("date=*/universe.jsonl"))
    assert len(universes) == 1, sorted(p.relative_to(data) for p in data.rglob("*"))
    lines = [json.loads(line) for line in universes[0].read_text().splitlines() if line]
    assert lines, "the venue's universe is empty"
    assert all(row["venue"] == venue for row in lines)
    assert (data / "state" / f"venue={venue}" / "active_instruments.snapshot.json").is_file()


@pytest.mark.parametrize("venue", FAKES)
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--port", "99999"], "--port 99999: not a TCP port"),
        (["--port", "-5"], "--port -5: not a TCP port"),
        (["--malformed-prob", "5"], "--malformed-prob 5: must be within [0, 1]"),
        (["--unknown-prob", "-0.5"], "--unknown-prob -0.5: must be within [0, 1]"),
        (["--http-error-prob", "1.5"], "--http-error-prob 1.5: must be within [0, 1]"),
        (["--trade-ratio", "2"], "--trade-ratio 2: must be within [0, 1]"),
        (["--host", "0.0.0.0"], "--host 0.0.0.0: not a loopback address"),
        (["--host", "192.0.2.1"], "pass --public"),
        (["--slow-ms", "-1"], "--slow-ms -1: must be 0 or more"),
        # --public lets the host through: the next check (the port) is what stops it.
        (["--host", "0.0.0.0", "--public", "--port", "70000"], "--port 70000"),
    ],
)
def test_bad_knobs_are_one_line_exit_2(venue: str, args: list[str], needle: str) -> None:
    result = runner.invoke(app, ["fake-venue", venue, *args, "--duration", "0.1"])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pmtape: error: ")
    assert needle in lines[0]
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("venue", ["kalshi", "limitless"])
def test_venue_specific_probabilities_are_checked(venue: str) -> None:
    knob = {"kalshi": "--malformed-prob", "limitless": "--duplicate-prob"}[venue]
    result = runner.invoke(app, ["fake-venue", venue, knob, "5"])
    assert result.exit_code == 2
    assert f"{knob} 5: must be within [0, 1]" in result.stderr


@pytest.mark.parametrize(
    ("host", "public", "ok"),
    [
        ("127.0.0.1", False, True),
        ("127.0.0.2", False, True),
        ("localhost", False, True),
        ("::1", False, True),
        ("0.0.0.0", False, False),
        ("10.0.0.5", False, False),
        ("example.org", False, False),
        ("0.0.0.0", True, True),
    ],
)
def test_only_loopback_hosts_unless_public(host: str, public: bool, ok: bool) -> None:
    def check() -> None:
        check_knobs(host=host, public=public, port=0, shares={}, non_negative={})

    if ok:
        check()
    else:
        with pytest.raises(UsageError, match="--public"):
            check()
