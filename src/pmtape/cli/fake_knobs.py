"""From a fake's declared knobs to ``pmtape fake-venue NAME``: options, checks, the serve loop.

A venue declares its fake's command as data (``venues.base.FakeCommand``); this module
builds the typer command from it, names no venue, and does what every fake command does:
refuse bad values with one line before anything is bound, launch the fake, print one JSON
line and serve until a signal or ``--duration``.

The JSON line holds the fake's URLs, what its launch adds (key ids, paths, env), ``set``
(the config keys, ``KEY=VALUE``) and ``flags``, the same as ``--set`` flags to paste after
``pmtape discover``/``collect``/``run``: they enable the venue and point its adapter at the fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import shlex
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import typer

from pmtape.core.errors import UsageError
from pmtape.proc.runner import echo_json, run_until_signal
from pmtape.venues.base import Bound, FakeCommand, Knob
from pmtape.venues.fake.options import FakeLaunch, launcher


def build_command(spec: FakeCommand) -> Callable[..., None]:
    """Return a typer-ready function whose parameters are ``spec``'s knobs, in order."""

    def command(**knobs: Any) -> None:
        run(spec, knobs)

    params = [
        inspect.Parameter(
            k.name, inspect.Parameter.KEYWORD_ONLY, default=k.default, annotation=_annotation(k)
        )
        for k in spec.knobs
    ]
    command.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    command.__doc__ = spec.help
    return command


def _annotation(k: Knob) -> Any:
    kind: Any = k.kind if k.default is not None else k.kind | None
    return Annotated[kind, typer.Option(help=k.help, min=k.min)]


def run(spec: FakeCommand, knobs: Mapping[str, Any]) -> None:
    """Check the knobs, launch the fake and serve it."""
    check_knobs(
        host=knobs["host"],
        public=knobs["public"],
        port=knobs["port"],
        shares={k.name: knobs[k.name] for k in spec.knobs if k.bound is Bound.SHARE},
        non_negative={k.name: knobs[k.name] for k in spec.knobs if k.bound is Bound.NON_NEGATIVE},
    )
    with launcher(spec)(knobs) as launched:
        serve(launched, knobs["silent_after"], knobs["duration"])


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


def describe(launched: FakeLaunch) -> dict[str, Any]:
    """Return a started fake's JSON line: its URLs, what its launch adds, ``set`` and ``flags``."""
    fake = launched.fake
    overrides = {**fake.config_overrides(), **launched.overrides}
    return {**fake.urls, **launched.info, **venue_flags(fake.venue, overrides)}


def serve(launched: FakeLaunch, silent_after: float, duration: float | None) -> None:
    """Start the fake, print its JSON line, serve until a signal or ``duration`` seconds."""
    fake = launched.fake

    async def main(stop: asyncio.Event) -> None:
        await fake.start()
        try:
            echo_json(describe(launched))
            if silent_after > 0:
                asyncio.get_running_loop().call_later(silent_after, silence, fake.faults)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=duration)
        finally:
            await fake.stop()

    run_until_signal(main)


def silence(faults: Any) -> None:
    """Make the fake go quiet (its keepalive answers go on)."""
    faults.silent = True
