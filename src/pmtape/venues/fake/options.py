"""The fakes' command knobs: the ones most fakes share, and launching a fake from their values.

Each venue's ``fake/faults.py`` declares its ``FakeCommand`` (``venues.base``: help, knobs,
launcher); the CLI turns every one into ``pmtape fake-venue NAME`` (parsing, checks, the JSON
line, the serve loop), so nothing below ``cli`` parses flags. A venue changes a shared knob's
default or help with ``dataclasses.replace``.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pmtape.core.errors import UsageError
from pmtape.venues.base import Bound, FakeCommand, Knob

if TYPE_CHECKING:
    from pmtape.venues.fake.base import LoopbackFake


@dataclass
class FakeLaunch:
    """A fake built from the knobs (not started yet) and what its JSON line adds to its URLs."""

    fake: LoopbackFake
    info: dict[str, Any] = field(default_factory=dict)
    """Printed after the URLs (key ids, paths, env)."""
    overrides: dict[str, str] = field(default_factory=dict)
    """Config keys beyond ``fake.config_overrides()`` that point pmtape at the fake."""


Launcher = Callable[[Mapping[str, Any]], AbstractContextManager[FakeLaunch]]


def launcher(command: FakeCommand) -> Launcher:
    """Import and return the launcher of ``command`` (the fake's server stack comes with it)."""
    module, _, attr = command.launch.partition(":")
    fn: Launcher = getattr(importlib.import_module(module), attr)
    return fn


HOST = Knob("host", str, "127.0.0.1", "Address to bind: loopback only, unless --public.")
PUBLIC = Knob(
    "public",
    bool,
    False,
    "Allow a --host that is not loopback (the fake has no auth; keep it private).",
)
PORT = Knob("port", int, 0, "Port, 0-65535 (0: any free one; the URLs are printed).")
MARKETS = Knob("markets", int, 40, "Markets (one book each).", min=1)
SEED = Knob("seed", int, 7, "Seed of the synthetic market.")
RATE = Knob("rate", float, 200.0, "Book changes per second.", min=0.1)
TRADE_RATIO = Knob("trade_ratio", float, 0.05, "Share of trades, 0-1.", bound=Bound.SHARE)
ROLLING_SHARE = Knob(
    "rolling_share", float, 0.05, "Share of short up/down series markets, 0-1.", bound=Bound.SHARE
)
ROLLING_PERIOD = Knob("rolling_period_s", int, 900, "Series period, seconds.", min=1)
DROP_EVERY = Knob(
    "drop_every",
    float,
    0.0,
    "Close every socket this often, seconds (0: never).",
    bound=Bound.NON_NEGATIVE,
)
SILENT_AFTER = Knob(
    "silent_after",
    float,
    0.0,
    "Stop sending data after this many seconds (0: never).",
    bound=Bound.NON_NEGATIVE,
)
MALFORMED = Knob(
    "malformed_prob",
    float,
    0.0,
    "Chance of a malformed frame after a frame, 0-1.",
    bound=Bound.SHARE,
)
UNKNOWN = Knob(
    "unknown_prob",
    float,
    0.0,
    "Chance per tick of a message type the client does not know, 0-1.",
    bound=Bound.SHARE,
)
VIOLATION_PROB = Knob(
    "violation_prob",
    float,
    0.0,
    "Chance that a served book breaks the --violation invariant, 0-1.",
    bound=Bound.SHARE,
)


def violation_knob(kinds: tuple[str, ...]) -> Knob:
    """Return the ``--violation`` knob of a fake that can serve these kinds of bad books."""
    return Knob(
        "violation",
        str,
        "",
        f"Serve books breaking one audited invariant: {', '.join(kinds)} ('': none).",
    )


def violation_kind(kind: str, kinds: tuple[str, ...]) -> str:
    """Return ``--violation``'s value if the fake can serve it; else raise a one-line error."""
    if kind and kind not in kinds:
        raise UsageError(f"--violation {kind}: not one of {', '.join(kinds)}")
    return kind


def pick_violation(kind: str, prob: float, rng: random.Random) -> str | None:
    """Return ``kind`` for the next served book with chance ``prob`` (the ``violation`` fault)."""
    if kind and prob > 0 and rng.random() < prob:
        return kind
    return None


HTTP_ERROR = Knob(
    "http_error_prob",
    float,
    0.0,
    "Chance of a 429/503 on REST (and, Kalshi, on upgrades), 0-1.",
    bound=Bound.SHARE,
)
SLOW_MS = Knob(
    "slow_ms",
    float,
    0.0,
    "Delay every REST answer this long, ms (a stalled venue).",
    bound=Bound.NON_NEGATIVE,
)
DURATION = Knob("duration", float, None, "Stop after this many seconds.", min=0.1)
