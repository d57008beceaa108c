"""Bronze ingest of trade history per second: fetch from the local fake, parse, persist.

The fake Polymarket runs in its own process (as a venue would) serving a seeded Data API
history; this process runs ``backfill_trades`` with the rate limits lifted: HTTP pages of
1,000 trades, msgspec parsing into e6 rows, raw bodies into the capture run, zstd Parquet
parts, cursor commits. A first untimed run warms the fake (it builds each market's history
on first request); the timed run starts from an empty data dir. Once the fake is up, this
process pins itself to one core (the fake keeps the others).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pmtape.history.backfill import BackfillSettings, backfill_trades
from pmtape.venues.polymarket.history import PolymarketHistory


@contextlib.contextmanager
def fake_with_history(markets: int, trades: int) -> Iterator[dict[str, Any]]:
    """Run ``pmtape fake-venue polymarket`` with a trade history; yield its URLs."""
    cmd = [sys.executable, "-m", "pmtape", "fake-venue", "polymarket", "--markets", str(markets)]
    cmd += ["--rate", "1", "--history-trades", str(trades)]
    fake = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert fake.stdout is not None
        yield json.loads(fake.stdout.readline())
    finally:
        fake.terminate()
        fake.wait(timeout=30)


async def _run(hooks: PolymarketHistory, data_dir: Path, workers: int) -> tuple[int, float, float]:
    settings = BackfillSettings(data_dir=data_dir, lift_limits=True, workers=workers)
    cpu0, t0 = time.process_time(), time.perf_counter()
    result = await backfill_trades(hooks, settings)
    return result.rows_stored, time.perf_counter() - t0, time.process_time() - cpu0


def main() -> None:
    """Print trade rows/s stored (wall and per CPU second of this process)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--markets", type=int, default=20)
    parser.add_argument("--trades", type=int, default=25_000, help="mean trades per market")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    with fake_with_history(args.markets, args.trades) as urls:
        if len(os.sched_getaffinity(0)) > 1:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # the fake keeps the rest
        hooks = PolymarketHistory(data_url=urls["data_url"], gamma_url=urls["gamma_url"])
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(_run(hooks, Path(tmp) / "warm", args.workers))
            rows, wall_s, cpu_s = asyncio.run(_run(hooks, Path(tmp) / "timed", args.workers))
    print(
        f"history ingest: {rows:,} trade rows in {wall_s:.2f}s = {rows / wall_s:,.0f} rows/s "
        f"(this process: {cpu_s:.2f} CPU s, {rows / cpu_s:,.0f} rows per CPU second)"
    )


if __name__ == "__main__":
    main()
