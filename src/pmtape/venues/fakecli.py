"""What every venue's ``pmtape fake-venue NAME`` command shares: options and the serve loop.

Each venue package with a fake has a ``fake_cli.py`` whose ``command`` the CLI mounts under
``pmtape fake-venue`` by the venue's registered name (cli/fake_cmd.py names no venue).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Annotated, Any

import typer

from pmtape.ops.runner import echo_json, run_until_signal


def opt(help_text: str) -> Any:
    return typer.Option(help=help_text)


Host = Annotated[str, opt("Address to bind (keep it on loopback).")]
Port = Annotated[int, opt("Port (0: any free one; the URLs are printed).")]
Markets = Annotated[int, typer.Option(min=1, help="Markets (one book each).")]
Seed = Annotated[int, opt("Seed of the synthetic market.")]
Rate = Annotated[float, typer.Option(min=0.1, help="Book changes per second.")]
TradeRatio = Annotated[float, typer.Option(min=0, max=1, help="Share of trades.")]
RollingShare = Annotated[
    float, typer.Option(min=0, max=1, help="Share of short up/down series markets.")
]
RollingPeriod = Annotated[int, typer.Option(min=1, help="Series period, seconds.")]
DropEvery = Annotated[float, opt("Close every socket this often, seconds (0: never).")]
SilentAfter = Annotated[float, opt("Stop sending data after this many seconds (0: never).")]
Malformed = Annotated[float, opt("Chance of a malformed frame after a frame.")]
Unknown = Annotated[float, opt("Chance per tick of a message type the client does not know.")]
HttpError = Annotated[float, opt("Chance of a 429/503 on REST (and, Kalshi, on upgrades).")]
SlowMs = Annotated[float, opt("Delay every REST answer this long (a stalled venue).")]
PingMs = Annotated[int, typer.Option(min=100, help="Engine.IO pingInterval, ms.")]
PongMs = Annotated[int, typer.Option(min=100, help="Engine.IO pingTimeout, ms.")]
Duration = Annotated[float | None, typer.Option(min=0.1, help="Stop after this many seconds.")]


def serve(
    fake: Any,
    describe: Callable[[], dict[str, Any]],
    silent_after: float,
    faults: Any,
    duration: float | None,
) -> None:
    """Start ``fake``, print ``describe()`` as one JSON line, serve until a signal or timeout."""

    async def main(stop: asyncio.Event) -> None:
        await fake.start()
        try:
            echo_json(describe())
            if silent_after > 0:
                asyncio.get_running_loop().call_later(silent_after, silence, faults)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=duration)
        finally:
            await fake.stop()

    run_until_signal(main)


def silence(faults: Any) -> None:
    """Make the fake go quiet (its keepalive answers go on)."""
    faults.silent = True
