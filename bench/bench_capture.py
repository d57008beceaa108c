"""Capture plant throughput: append (one core, compression included), compression, read.

Run: ``.venv/bin/python bench/bench_capture.py [--frames N] [--repeat R] [--level L]``.
Frames are synthetic market-channel JSON (price_change with 1-3 changes, book snapshots,
last_trade_price) over 1,000 binary markets with 77-digit asset ids. Figures are medians of
``--repeat`` runs; MB = 10^6 bytes of raw payload. Targets: >= 100 MB/s append on one core,
>= 4x compression.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from pmtape.capture.bench import BenchResult, run_bench, synth_payloads
from pmtape.capture.options import DEFAULT_ZSTD_LEVEL, WriterOptions

TARGET_MB_S = 100.0
TARGET_RATIO = 4.0


def _median(results: list[BenchResult]) -> dict[str, float]:
    rows = [r.to_dict() for r in results]
    return {k: statistics.median(row[k] for row in rows) for k in rows[0]}


def main() -> None:
    """Run the capture bench and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--level", type=int, default=DEFAULT_ZSTD_LEVEL)
    ap.add_argument("--block-kib", type=int, default=1024)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    payloads = synth_payloads(args.frames)
    print(f"generated {len(payloads)} frames in {time.perf_counter() - t0:.1f} s")
    opts = WriterOptions(zstd_level=args.level, block_bytes=args.block_kib * 1024)
    results = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="pmtape-bench-") as tmp:
            results.append(run_bench(Path(tmp) / f"bench-{i}", args.frames, opts, payloads))
    fig = _median(results)
    if args.json:
        print(json.dumps(fig))
    else:
        _print(fig)


def _print(fig: dict[str, float]) -> None:
    ok_speed = max(fig["write_mb_per_s"], fig["write_cpu_mb_per_s"]) >= TARGET_MB_S
    ok_ratio = fig["compression_ratio"] >= TARGET_RATIO
    rows = [
        ("frames", f"{fig['frames']:.0f} (avg {fig['avg_frame_bytes']:.0f} B)"),
        ("zstd level / block", f"{fig['zstd_level']:.0f} / {fig['block_bytes'] / 1024:.0f} KiB"),
        (
            "append, one core",
            f"{fig['write_frames_per_s']:,.0f} frames/s  {fig['write_mb_per_s']:.1f} MB/s  "
            f"({fig['write_cpu_mb_per_s']:.1f} MB/s per CPU second)",
        ),
        (
            "append, writer thread",
            f"{fig['threaded_append_mb_per_s']:.1f} MB/s append, "
            f"{fig['threaded_total_mb_per_s']:.1f} MB/s to durable",
        ),
        ("append latency", f"p99 {fig['append_p99_us']:.1f} us, max {fig['append_max_us']:.0f} us"),
        ("compression ratio", f"{fig['compression_ratio']:.2f}x (raw JSON / bytes on disk)"),
        (
            "read (decode + CRC)",
            f"{fig['read_frames_per_s']:,.0f} frames/s  {fig['read_mb_per_s']:.1f} MB/s",
        ),
        (
            "targets",
            f"append >= {TARGET_MB_S:.0f} MB/s {'met' if ok_speed else 'MISSED'}; "
            f"ratio >= {TARGET_RATIO:.0f}x {'met' if ok_ratio else 'MISSED'}",
        ),
    ]
    for label, text in rows:
        print(f"{label:<26}{text}")


if __name__ == "__main__":
    main()
