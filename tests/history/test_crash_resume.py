"""``pmtape history backfill`` SIGKILLed at random moments and resumed: no row lost or doubled."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pmtape.history.bronze import read_table
from pmtape.history.state import read_state
from pmtape.venues.polymarket.fake.server import FakePolymarket
from tests.history.util import (
    ThreadedFake,
    bronze_prices,
    bronze_rows,
    manifest_ok,
    price_truth,
    truth_rows,
)

SRC = Path(__file__).resolve().parents[2] / "src"


def _command(fake: FakePolymarket, data_dir: Path, mode: str) -> list[str]:
    return [
        sys.executable, "-m", "pmtape", "history", "backfill", "-d", str(data_dir),
        "--set", f"venues.polymarket.data_url={fake.urls['data_url']}",
        "--set", f"venues.polymarket.gamma_url={fake.urls['gamma_url']}",
        "--set", f"venues.polymarket.clob_url={fake.urls['clob_url']}",
        "--page-size", "25", "--flush-interval", "0.1", "--json", "--mode", mode,
    ]  # fmt: skip


def _committed_rows(data_dir: Path, table: str = "trades") -> int:
    state = read_state(data_dir / "history")
    return sum(c.rows for e in state.ledger.get(table, {}).values() for c in e.dts.values())


def _walk_open(data_dir: Path) -> bool:
    cursors = read_state(data_dir / "history").cursors.get("prices", {})
    return not cursors or not all(c.done for c in cursors.values())


def _no_price_twice(data_dir: Path) -> bool:
    t = read_table(data_dir / "history", "prices").to_pydict()
    keys = list(zip(t["token_id"], t["ts_s"], strict=True))
    return len(keys) == len(set(keys))


def _kill_at(child: subprocess.Popen[bytes], data_dir: Path, rng: random.Random, n: int) -> None:
    cursor = data_dir / "history" / "cursor.json"
    if n % 2 == 0:  # after a commit the run made, a little later
        before = cursor.stat().st_mtime_ns if cursor.exists() else 0
        deadline = time.monotonic() + 30
        while child.poll() is None and time.monotonic() < deadline:
            if cursor.exists() and cursor.stat().st_mtime_ns != before:
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.15))
    else:  # anywhere, startup included
        time.sleep(rng.uniform(0.05, 1.5))
    child.send_signal(signal.SIGKILL)
    child.wait()


def _kill_and_resume(tmp_path: Path, kills: int, seed: int, trades: int) -> None:
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("PMTAPE_CONFIG", None)
    partial_seen = 0
    with ThreadedFake(markets=6, history_trades=trades, seed=seed) as fake:
        fake.faults.slow_ms = 30
        fake.faults.edge_repeat_prob = 0.3
        truth = truth_rows(fake.data_api.truth([]))
        total = sum(truth.values())
        cmd = _command(fake, data_dir, "trades")
        for n in range(kills):
            child = subprocess.Popen(
                cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            _kill_at(child, data_dir, rng, n)
            assert not bronze_rows(data_dir) - truth  # at every kill: no row twice, none invented
            partial_seen += int(0 < _committed_rows(data_dir) < total)
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)["trades"]
    assert report["stop_reason"] == "complete"
    assert partial_seen > 0  # some kill did land mid-run, so resuming was exercised
    assert bronze_rows(data_dir) == truth  # zero duplicates, zero losses
    assert manifest_ok(data_dir)


def test_killed_four_times_then_resumed_stores_every_trade_once(tmp_path: Path) -> None:
    _kill_and_resume(tmp_path, kills=4, seed=21, trades=300)


@pytest.mark.slow
def test_killed_twenty_times_then_resumed_stores_every_trade_once(tmp_path: Path) -> None:
    _kill_and_resume(tmp_path, kills=20, seed=22, trades=1500)


def test_prices_killed_four_times_then_resumed_store_every_point_once(tmp_path: Path) -> None:
    rng = random.Random(31)
    data_dir = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("PMTAPE_CONFIG", None)
    partial_seen = 0
    with ThreadedFake(markets=6, history_trades=200, seed=31) as fake:
        fake.faults.slow_ms = 30
        truth = price_truth(fake)
        trades = subprocess.run(
            _command(fake, data_dir, "trades"), env=env, capture_output=True, check=False
        )
        assert trades.returncode == 0
        cmd = _command(fake, data_dir, "prices")
        for n in range(4):
            child = subprocess.Popen(
                cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            _kill_at(child, data_dir, rng, n)
            assert not bronze_prices(data_dir) - truth  # no historical point twice or invented
            assert _no_price_twice(data_dir)  # live points included
            partial_seen += int(_committed_rows(data_dir, "prices") > 0 and _walk_open(data_dir))
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, check=False)
        trades = truth_rows(fake.data_api.truth([]))
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout)["prices"]["stop_reason"] == "complete"
    assert partial_seen > 0  # some kill did land mid-walk of the prices
    assert bronze_prices(data_dir) == truth  # zero duplicates, zero losses
    assert bronze_rows(data_dir) == trades
    assert _no_price_twice(data_dir)
    assert manifest_ok(data_dir)
