"""The demo's closing listing: each directory's file count agrees with what it lists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pmtape.cli.demo import SHOWN_PER_DIR, _show_files
from tests.conftest import fast_config


def test_counts_and_listings_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = fast_config(tmp_path / "data")
    names = [f"stats/venue=sim/date=2024-05-0{d}/stats.parquet" for d in range(1, 5)]
    for name in [*names, "state/venue=sim/active_instruments.snapshot.json"]:
        (cfg.data_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (cfg.data_dir / name).write_bytes(b"x")
    _show_files(cfg, None)
    out = capsys.readouterr().out
    assert re.search(r"/stats/  4 files, .*\n    \(the last 2 of 4:\)\n", out)
    listed = [line.strip() for line in out.splitlines() if line.startswith("    stats/")]
    assert listed == names[-SHOWN_PER_DIR:]
    assert re.search(r"/state/  1 file, .*\n    state/venue=sim/active_instruments", out)
    assert "(the last" not in out.split("/state/")[1].split("\n", 2)[1]
    assert re.search(r"/trades/  0 files, ", out)
