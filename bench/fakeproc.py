"""A fake venue in its own process for the live benchmarks (its own core, as a venue is)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def fake_polymarket(markets: int, rate: float) -> Iterator[tuple[dict[str, Any], int]]:
    """Run ``pmtape fake-venue polymarket``; yield its URLs and pid; stop it on the way out."""
    cmd = [sys.executable, "-m", "pmtape", "fake-venue", "polymarket"]
    cmd += ["--markets", str(markets), "--rate", str(rate)]
    fake = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert fake.stdout is not None
        yield json.loads(fake.stdout.readline()), fake.pid
    finally:
        fake.terminate()
        fake.wait(timeout=30)
