"""``pmtape run``'s supervisor: restarts what dies (with backoff), stops everything on request."""

from __future__ import annotations

import asyncio
import signal
import sys
import time

import pytest

from pmtape.proc.supervise import ChildSpec, supervise


@pytest.mark.asyncio
async def test_a_dying_child_is_restarted_with_backoff_and_a_healthy_one_left_alone() -> None:
    stop = asyncio.Event()
    specs = [
        ChildSpec("dies", [sys.executable, "-c", "import sys; sys.exit(3)"]),
        ChildSpec("lives", [sys.executable, "-c", "import time; time.sleep(60)"]),
    ]
    asyncio.get_running_loop().call_later(4.0, stop.set)
    started = time.monotonic()
    dies, lives = await supervise(specs, stop, backoff_max_s=1.0, grace_s=5.0)
    assert time.monotonic() - started < 15
    assert dies.starts >= 3  # restarted, and more than once
    assert dies.starts < 40  # ... but not in a storm
    # Every start but perhaps the last (a restart our stop may have caught) exited with 3.
    assert dies.exits in (dies.starts, dies.starts - 1)
    assert dies.last_exit in (3, -signal.SIGTERM)
    assert lives.exits == 0
    assert lives.starts == 1
    assert lives.last_exit is not None
    assert lives.last_exit < 0  # stopped by our SIGTERM
