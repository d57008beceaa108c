"""Live Polymarket ingest: the real collector against the fake in another process.

For each rate, start ``pmtape fake-venue polymarket`` (its own process and core) over
``--markets`` markets (two assets each), subscribe every asset, collect with capture on for
``--seconds``, and print what arrived, the loop lag and any drops. The highest rate with no
drops and loop-lag p99 < 10 ms is what the collector sustains on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, get_args

from fakeproc import fake_polymarket
from pmtape.collect.collector import Collector
from pmtape.config import load_config
from pmtape.discovery.service import discover_once
from pmtape.proc.runner import EventLoopChoice, loop_factory
from pmtape.venues.registry import create_adapter


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _collect(urls: dict[str, Any], root: Path, args: argparse.Namespace) -> dict[str, Any]:
    assets = args.markets * 2
    overrides = {
        **{
            f"venues.polymarket.{k}": v
            for k, v in urls.items()
            if k.endswith("_url") and k != "debug_url"
        },
        "data_dir": str(root),
        "venues.polymarket.max_subs": assets,
        "venues.polymarket.hot_count": 100,
        "venues.polymarket.assets_per_connection": 250,
        "venues.polymarket.audit_every_minutes": 0,
        "collector.log_interval_s": 3600,
    }
    cfg = load_config(
        None, overrides=overrides, venues=["polymarket"], env={}, use_default_path=False
    )
    adapter = create_adapter("polymarket", cfg.venue("polymarket"))
    await discover_once(cfg.data_dir, {"polymarket": adapter})
    collector = Collector(cfg, {"polymarket": adapter})
    venue = collector.venues["polymarket"]
    lags: list[float] = []
    events: list[int] = []
    frames: list[int] = []
    cpu: list[tuple[float, float]] = []

    async def sample() -> None:
        while True:
            await asyncio.sleep(1.0)
            lags.extend(collector.lag.drain())
            events.append(venue.state.normalizer.stats.get("events", 0))
            frames.append(venue.counters["frames"])
            cpu.append((time.thread_time(), time.process_time()))

    sampler = asyncio.create_task(sample())
    summary = await collector.run_until(asyncio.Event(), args.seconds)
    sampler.cancel()
    steady = lags[len(lags) // 4 :]  # after subscription and the initial books
    first = len(events) // 4
    span = max(1, len(events) - 1 - first)
    rate = (events[-1] - events[first]) / span
    cap = collector.run.capture.stats() if collector.run else {}
    return {
        "events_per_s": rate,
        "frames_per_s": (frames[-1] - frames[first]) / span,
        "loop_cpu": (cpu[-1][0] - cpu[first][0]) / span,
        "all_cpu": (cpu[-1][1] - cpu[first][1]) / span,
        "p50": statistics.median(steady) if steady else float("nan"),
        "p99": _pct(steady, 0.99),
        "max": max(steady) if steady else float("nan"),
        "rows_dropped": summary.rows_dropped,
        "capture_dropped": sum(s.dropped_frames for s in cap.values()),
        "subs": summary.venues["polymarket"]["subs"],
        "loop": summary.event_loop,
    }


def main() -> None:
    """Print, per fake rate, what the collector received and its loop lag."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="5000,10000,20000", help="fake messages/s to try")
    parser.add_argument("--markets", type=int, default=2500, help="markets (2 assets each)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--loop",
        choices=get_args(EventLoopChoice),
        default="auto",
        help="event loop, as collector.event_loop (auto: uvloop where installed, as collect)",
    )
    args = parser.parse_args()
    for rate in (float(r) for r in args.rates.split(",")):
        with (
            fake_polymarket(args.markets, rate) as (urls, _),
            tempfile.TemporaryDirectory() as tmp,
            asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner,
        ):
            r = runner.run(_collect(urls, Path(tmp), args))
        ok = r["rows_dropped"] == 0 and r["capture_dropped"] == 0 and r["p99"] < 10
        print(
            f"fake {rate:>8,.0f} msgs/s, {args.markets * 2:,} assets ({r['subs']:,} subscribed,"
            f" {r['loop']}):"
            f" received {r['frames_per_s']:,.0f} frames/s with {r['events_per_s']:,.0f} events/s"
            f" (loop thread {r['loop_cpu']:.0%} of a core, all threads {r['all_cpu']:.0%}),"
            f" loop lag p50 {r['p50']:.2f} ms,"
            f" p99 {r['p99']:.2f} ms, max {r['max']:.1f} ms, drops {r['rows_dropped']}+"
            f"{r['capture_dropped']} -> {'keeps up' if ok else 'DOES NOT keep up'}",
            flush=True,
        )


if __name__ == "__main__":
    main()
