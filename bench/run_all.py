"""Run every benchmark in its own process and print its figures plus its peak RSS.

`make bench` runs this. Figures are for one core of this machine; they are printed, never
asserted (shared machines drift ±10%: compare ratios taken in one run).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    "bench_book.py",
    "bench_writer.py",
    "bench_capture.py",
    "bench_collect.py",
    "bench_polymarket.py",
    "bench_pm_fake.py",
    "bench_pm_live.py",
]
LIVE = {"bench_pm_fake.py", "bench_pm_live.py"}
"""Benchmarks against a fake venue in its own process: not pinned, the fake gets a core."""


def main() -> int:
    """Run each benchmark script and report its peak resident memory."""
    failed = 0
    for name in BENCHES:
        script = HERE / name
        if not script.exists():
            continue
        print(f"=== {name}", flush=True)
        # taskset pins the run to one core where available, so figures are per core.
        cmd = [sys.executable, str(script)]
        if name not in LIVE and os.path.exists("/usr/bin/taskset"):
            cmd = ["taskset", "-c", "0", *cmd]
        proc = subprocess.Popen(cmd)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        print(f"peak RSS of {name}: {usage.ru_maxrss / 1024:.0f} MB", flush=True)
        failed += proc.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
