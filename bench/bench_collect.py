"""The collector's receive-loop lag with capture on and off, on the sim venue.

Runs the real collector in-process (sim session -> capture -> normalizer -> books ->
snapshots -> Parquet writer thread) at a high message rate, once with capture and once
without, and prints loop-lag percentiles (a 50 ms timer's lateness, sampled continuously)
and what was ingested.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from pmtape.cli.common import adapters_for
from pmtape.collect.collector import Collector
from pmtape.config import load_config
from pmtape.discovery.service import discover_once


def _pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _one(root: Path, capture: bool, args: argparse.Namespace) -> dict[str, float]:
    cfg = load_config(
        None,
        env={},
        use_default_path=False,
        overrides={
            "data_dir": str(root),
            "venues.sim.markets": args.markets,
            "venues.sim.updates_per_sec": args.rate,
            "venues.sim.max_subs": args.markets * 2,
            "venues.sim.hot_count": 100,
            "collector.log_interval_s": 3600,
        },
    )
    await discover_once(cfg.data_dir, adapters_for(cfg))
    collector = Collector(cfg, adapters_for(cfg), capture=capture)
    samples: list[float] = []

    async def sampler() -> None:
        while True:
            await asyncio.sleep(1.0)
            samples.extend(collector.lag.drain())

    task = asyncio.create_task(sampler())
    await asyncio.sleep(0)
    summary = await collector.run_until(asyncio.Event(), args.seconds)
    task.cancel()
    warm = samples[int(len(samples) * 0.1) :]  # skip start-up (universe layout, initial books)
    frames = summary.venues["sim"].get("frames", 0)
    return {
        "frames_per_s": frames / summary.duration_s,
        "p50": statistics.median(warm) if warm else float("nan"),
        "p99": _pct(warm, 0.99),
        "max": max(warm) if warm else float("nan"),
    }


def main() -> None:
    """Print loop lag p50/p99/max with capture on and off."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=5_000, help="sim messages/s")
    parser.add_argument("--markets", type=int, default=1_000)
    args = parser.parse_args()
    results = {}
    for capture in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            results[capture] = asyncio.run(_one(Path(tmp), capture, args))
        r = results[capture]
        print(
            f"capture {'on ' if capture else 'off'}: {r['frames_per_s']:,.0f} frames/s, "
            f"loop lag p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, max {r['max']:.1f} ms"
        )
    added = results[True]["p99"] - results[False]["p99"]
    print(f"capture adds {added:+.2f} ms to loop-lag p99 (target < 1 ms)")


if __name__ == "__main__":
    main()
