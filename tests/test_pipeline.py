"""The whole pipeline on the sim venue: discover -> collect -> Parquet -> mine -> HOT from stats."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import msgspec
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pmtape.cli.common import adapters_for
from pmtape.collect.collector import Collector
from pmtape.config import Config
from pmtape.core.clock import now_ms
from pmtape.core.snapshot import SNAPSHOT_COLUMNS
from pmtape.discovery.service import discover_once
from pmtape.mine.miner import mine
from tests.conftest import fast_config, fast_flags
from tests.helpers import eventually_sync

LIST_F64 = pa.list_(pa.float64())


def _collect(cfg: Config, seconds: float):
    async def go():
        await discover_once(cfg.data_dir, adapters_for(cfg))
        return await Collector(cfg, adapters_for(cfg)).run_until(asyncio.Event(), seconds)

    return asyncio.run(go())


def _snapshot_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "orderbook_snapshots").rglob("*.parquet"))


def test_collector_to_parquet_to_miner(cfg: Config) -> None:
    started = now_ms()
    summary = _collect(cfg, 4.0)
    files = _snapshot_files(cfg.data_dir)
    assert files, "no snapshot files written"
    for f in files:
        rel = f.relative_to(cfg.data_dir / "orderbook_snapshots").parts
        assert rel[0] == "venue=sim"
        assert rel[1].startswith("date=")
        assert rel[2].startswith("hour=")
        assert f.name.startswith(f"snapshots_{rel[1][5:]}T{rel[2][5:]}-")
    table = pa.concat_tables(pq.read_table(f) for f in files)
    assert tuple(table.schema.names) == SNAPSHOT_COLUMNS
    for name in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
        assert table.schema.field(name).type.equals(LIST_F64)
    assert table.num_rows == summary.rows_accepted == summary.rows_written > 0
    rows = table.to_pylist()
    statuses = {r["status"] for r in rows}
    assert "ok" in statuses
    for r in rows:
        assert r["bid_px"] == sorted(r["bid_px"], reverse=True)
        assert r["ask_px"] == sorted(r["ask_px"])
        assert len(r["bid_px"]) == len(r["bid_sz"]) <= cfg.top_k
        assert len(r["ask_px"]) == len(r["ask_sz"]) <= cfg.top_k
        if r["status"] == "ok":
            assert r["mid"] == pytest.approx((r["best_bid_px"] + r["best_ask_px"]) / 2)
            assert r["best_bid_px"] == r["bid_px"][0]
            assert r["best_ask_px"] == r["ask_px"][0]
        if not r["bid_px"] or not r["ask_px"]:
            assert math.isnan(r["mid"])
            assert math.isnan(r["spread"])
            assert r["status"] in ("partial", "empty", "stale")
    # Both tiers were snapshotted at their own cadence, and WARM rotated through more books
    # than it has slots.
    books = {(r["market_id"], r["outcome_id"]) for r in rows}
    assert len(books) > cfg.venues.sim.max_subs
    # Polars and DuckDB read the same archive with Hive partitions.
    glob = str(cfg.data_dir / "orderbook_snapshots" / "**" / "*.parquet")
    assert (
        pl.scan_parquet(glob, hive_partitioning=True).select(pl.len()).collect().item()
        == table.num_rows
    )
    con = duckdb.connect()
    n = con.execute(
        f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning=true)"
    ).fetchone()
    assert n == (table.num_rows,)

    result = mine(cfg.data_dir, "sim", started - 60_000, now_ms(), 5)
    assert Path(result.stats_path).is_file()
    assert result.top_depth
    assert result.top_updates

    # A second run picks its HOT set from the stats cache the miner just wrote.
    again = _collect(cfg, 1.5)
    assert again.venues["sim"]["hot_source"] == "stats"


def test_sigterm_flushes_every_accepted_row(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {**os.environ, "PMTAPE_COLLECTOR__LOG_INTERVAL_S": "1"}
    env.pop("PMTAPE_CONFIG", None)
    base = [sys.executable, "-m", "pmtape"]
    flags = [*fast_flags(data_dir), "--set", "writer.flush_s=30"]  # rows sit in memory
    subprocess.run(
        [*base, "discover", *flags], check=True, env=env, capture_output=True, timeout=60
    )
    log_path = tmp_path / "collect.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*base, "collect", "--json", *flags], stdout=subprocess.PIPE, stderr=log, env=env
        )
        try:
            # Wait until snapshot rows are being accepted (the status line counts them).
            eventually_sync(
                lambda: b"snapshots/s=" in log_path.read_bytes() and _accepting(log_path), 30
            )
            assert not _snapshot_files(data_dir), "flush_s=30 should keep rows buffered"
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    err = log_path.read_text()
    assert proc.returncode == 0, err[-2000:]
    summary = msgspec.json.decode(out.splitlines()[-1])
    written = sum(pq.read_metadata(f).num_rows for f in _snapshot_files(data_dir))
    assert summary["rows_accepted"] > 0
    assert written == summary["rows_accepted"]


def _accepting(log_path: Path) -> bool:
    # "snapshots/s=0.0" only until the first rows are taken.
    return any(
        "snapshots/s=" in line and "snapshots/s=0.0 " not in line
        for line in log_path.read_text().splitlines()
    )


def test_fast_config_is_valid(tmp_path: Path) -> None:
    assert fast_config(tmp_path).venues.sim.hot_count == 8
