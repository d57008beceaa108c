"""Test helpers shared by every layer: wait for a condition instead of sleeping blindly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(
    cond: Callable[[], bool], timeout_s: float = 10.0, interval_s: float = 0.02
) -> None:
    """Wait until ``cond()`` is true, failing the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(interval_s)


def eventually_sync(
    cond: Callable[[], bool], timeout_s: float = 10.0, interval_s: float = 0.02
) -> None:
    """Blocking form of ``eventually`` for tests that drive threads or subprocesses."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(interval_s)
