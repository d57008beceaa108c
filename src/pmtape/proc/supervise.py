"""Supervise child processes: start them, restart one that dies, stop them all on a signal.

Used by ``pmtape run`` to keep ``pmtape discover --loop`` and ``pmtape collect`` running side
by side as separate processes, joined only by the atomic active-set snapshot files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from collections.abc import Sequence

import msgspec

log = logging.getLogger(__name__)


class ChildSpec(msgspec.Struct, frozen=True):
    """A child to keep running: a name and its command line."""

    name: str
    argv: list[str]


class ChildStatus(msgspec.Struct):
    """What happened to one child."""

    name: str
    starts: int = 0
    last_exit: int | None = None
    exits: int = 0
    """Times it exited by itself (not stopped by us): each one was followed by a restart."""


async def _stop(proc: asyncio.subprocess.Process, grace_s: float) -> int:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace_s)
        except TimeoutError:
            log.warning("child %d ignored SIGTERM for %.0fs; killing it", proc.pid, grace_s)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    return proc.returncode if proc.returncode is not None else -1


async def _keep_running(
    spec: ChildSpec,
    status: ChildStatus,
    stop: asyncio.Event,
    backoff_max_s: float,
    grace_s: float,
) -> None:
    delay = 1.0
    while not stop.is_set():
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(*spec.argv)
        status.starts += 1
        log.info("started %s (pid %d)", spec.name, proc.pid)
        waiter = asyncio.create_task(proc.wait())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([waiter, stopper], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if stop.is_set():
            status.last_exit = await _stop(proc, grace_s)
            waiter.cancel()
            return
        status.last_exit = proc.returncode
        status.exits += 1
        if time.monotonic() - started > 60:
            delay = 1.0  # it ran a good while: this is a fresh failure, not a crash loop
        wait = random.uniform(0, delay)  # full jitter: crash loops never become storms
        log.error("%s exited with %s; restarting in %.1fs", spec.name, proc.returncode, wait)
        delay = min(delay * 2, backoff_max_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)


async def supervise(
    specs: Sequence[ChildSpec],
    stop: asyncio.Event,
    *,
    backoff_max_s: float = 60.0,
    grace_s: float = 30.0,
) -> list[ChildStatus]:
    """Run every child until ``stop`` is set, restarting any that exits; then stop them all."""
    statuses = [ChildStatus(s.name) for s in specs]
    await asyncio.gather(
        *(
            _keep_running(s, st, stop, backoff_max_s, grace_s)
            for s, st in zip(specs, statuses, strict=True)
        )
    )
    return statuses
