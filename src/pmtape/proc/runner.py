"""Run a coroutine until SIGINT/SIGTERM; print machine-readable lines (long-lived commands).

Long-lived commands run on uvloop where it is installed (a dependency on Linux and macOS):
its loop does the socket reads, callbacks and timers of the receive path in C, which
lowers the collector's loop-thread time and loop lag. ``collector.event_loop`` (env
``PMTAPE_COLLECTOR__EVENT_LOOP``) picks ``asyncio``'s own loop instead, or insists on
``uvloop``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

import msgspec

from pmtape.core.errors import ConfigError

R = TypeVar("R")
EventLoopChoice = Literal["auto", "uvloop", "asyncio"]
"""Which event loop runs a long-lived command: uvloop's where installed (``auto``), or as named."""


def loop_factory(choice: EventLoopChoice = "auto") -> Callable[[], asyncio.AbstractEventLoop]:
    """Return what makes the event loop: uvloop's when installed (``auto``), or as chosen."""
    if choice == "asyncio":
        return asyncio.new_event_loop
    if importlib.util.find_spec("uvloop") is None:
        if choice == "uvloop":
            raise ConfigError(
                "collector.event_loop is 'uvloop' but uvloop is not installed"
                " (pip install uvloop, or set it to 'auto' or 'asyncio')"
            )
        return asyncio.new_event_loop
    import uvloop

    return uvloop.new_event_loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """Return ``uvloop`` or ``asyncio``: which implementation ``loop`` is."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run_until_signal(
    main: Callable[[asyncio.Event], Coroutine[Any, Any, R]], *, loop: EventLoopChoice = "auto"
) -> R:
    """Run ``main(stop)`` on a fresh loop; SIGINT/SIGTERM set ``stop`` for a clean shutdown."""

    async def runner() -> R:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            return await main(stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    with asyncio.Runner(loop_factory=loop_factory(loop)) as run:
        return run.run(runner())


def echo_json(obj: Any) -> None:
    """Print one JSON document on stdout."""
    sys.stdout.write(msgspec.json.encode(obj).decode() + "\n")
    sys.stdout.flush()
