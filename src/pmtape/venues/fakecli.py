"""What every venue's ``pmtape fake-venue NAME`` command shares: options, checks, the serve loop.

Each venue package with a fake has a ``fake_cli.py`` whose ``command`` the CLI mounts under
``pmtape fake-venue`` by the venue's registered name (cli/fake_cmd.py names no venue).

A fake prints one JSON line: its URLs, ``set`` (the config keys, ``KEY=VALUE``) and ``flags``,
the same as ``--set`` flags to paste after ``pmtape discover``/``collect``/``run``: they enable
the venue and point its adapter at the fake. Bad values stop the command before it binds
anything, with one line (``check_knobs``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import shlex
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import typer

from pmtape.core.errors import UsageError
from pmtape.proc.runner import echo_json, run_until_signal


def opt(help_text: str) -> Any:
    return typer.Option(help=help_text)


Host = Annotated[str, opt("Address to bind: loopback only, unless --public.")]
Public = Annotated[
    bool, opt("Allow a --host that is not loopback (the fake has no auth; keep it private).")
]
Port = Annotated[int, opt("Port, 0-65535 (0: any free one; the URLs are printed).")]
Markets = Annotated[int, typer.Option(min=1, help="Markets (one book each).")]
Seed = Annotated[int, opt("Seed of the synthetic market.")]
Rate = Annotated[float, typer.Option(min=0.1, help="Book changes per second.")]
TradeRatio = Annotated[float, opt("Share of trades, 0-1.")]
RollingShare = Annotated[float, opt("Share of short up/down series markets, 0-1.")]
RollingPeriod = Annotated[int, typer.Option(min=1, help="Series period, seconds.")]
DropEvery = Annotated[float, opt("Close every socket this often, seconds (0: never).")]
SilentAfter = Annotated[float, opt("Stop sending data after this many seconds (0: never).")]
Malformed = Annotated[float, opt("Chance of a malformed frame after a frame, 0-1.")]
Unknown = Annotated[float, opt("Chance per tick of a message type the client does not know, 0-1.")]
HttpError = Annotated[float, opt("Chance of a 429/503 on REST (and, Kalshi, on upgrades), 0-1.")]
SlowMs = Annotated[float, opt("Delay every REST answer this long, ms (a stalled venue).")]
PingMs = Annotated[int, typer.Option(min=100, help="Engine.IO pingInterval, ms.")]
PongMs = Annotated[int, typer.Option(min=100, help="Engine.IO pingTimeout, ms.")]
Duration = Annotated[float | None, typer.Option(min=0.1, help="Stop after this many seconds.")]


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_knobs(
    *,
    host: str,
    public: bool,
    port: int,
    shares: Mapping[str, float],
    non_negative: Mapping[str, float | None],
) -> None:
    """Raise UsageError (one line) unless every knob holds a value the fake can serve.

    ``shares``: probabilities and ratios, within [0, 1]; ``non_negative``: durations and
    delays (None: not given). Names are the Python parameter names.
    """
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: not a TCP port (0-65535; 0 picks a free one)")
    if not public and not is_loopback(host):
        raise UsageError(
            f"--host {host}: not a loopback address; the fake has no auth and serves fault"
            " knobs to anyone who can reach it (pass --public to serve it beyond this machine)"
        )
    for name, value in shares.items():
        if not 0 <= value <= 1:
            raise UsageError(f"{_flag(name)} {value:g}: must be within [0, 1]")
    for name, maybe in non_negative.items():
        if maybe is not None and not maybe >= 0:
            raise UsageError(f"{_flag(name)} {maybe:g}: must be 0 or more")


def is_loopback(host: str) -> bool:
    """Tell whether ``host`` is a loopback address (or ``localhost``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def venue_flags(venue: str, overrides: Mapping[str, str]) -> dict[str, Any]:
    """Return the ``set`` and ``flags`` entries of a fake's JSON line.

    ``set`` lists ``KEY=VALUE`` pairs; ``flags`` is the same as ``--set`` flags, ready to paste
    after ``pmtape discover``: they enable ``venue`` and point its adapter at the fake (without
    turning other venues off, so the flags of several fakes can be pasted together).
    """
    pairs = [f"venues.{venue}.enabled=true", *(f"{k}={v}" for k, v in overrides.items())]
    return {"set": pairs, "flags": shlex.join(a for pair in pairs for a in ("--set", pair))}


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
