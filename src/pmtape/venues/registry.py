"""Which venues exist and where their adapters live: a table of module paths, loaded lazily.

Nothing outside ``pmtape.venues`` names a venue; it asks here. A venue's package (and so its
network stack, its fake and their dependencies) is imported only when that venue is used,
which keeps ``pmtape --help`` fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from pmtape.core.errors import ConfigError
from pmtape.venues.base import FakeCommand, LocalFake, VenueAdapter
from pmtape.venues.settings import VenueConfig

ADAPTERS: dict[str, str] = {
    "sim": "pmtape.venues.sim.adapter:SimAdapter",
    "polymarket": "pmtape.venues.polymarket.adapter:PolymarketAdapter",
    "kalshi": "pmtape.venues.kalshi.adapter:KalshiAdapter",
    "limitless": "pmtape.venues.limitless.adapter:LimitlessAdapter",
}

HISTORY: dict[str, str] = {
    "polymarket": "pmtape.venues.polymarket.history:history_hooks",
}
"""Venues whose history can be backfilled: the function building their hooks from config."""


def available() -> list[str]:
    """Return the names of all known venues."""
    return sorted(ADAPTERS)


def adapter_class(name: str) -> type[VenueAdapter]:
    """Import and return the adapter class of venue ``name``."""
    try:
        path = ADAPTERS[name]
    except KeyError:
        raise ConfigError(f"unknown venue {name!r} (known: {', '.join(available())})") from None
    module, _, attr = path.partition(":")
    cls: type[VenueAdapter] = getattr(importlib.import_module(module), attr)
    return cls


def create_adapter(name: str, config: VenueConfig) -> VenueAdapter:
    """Build the adapter of venue ``name`` from its config section."""
    return adapter_class(name)(config)


def fake_commands() -> dict[str, FakeCommand]:
    """Return every venue's fake-venue command as data (help, knobs, launcher), by venue name."""
    out = {}
    for name in available():
        command = adapter_class(name).fake_command()
        if command is not None:
            out[name] = command
    return out


def local_fakes(names: Sequence[str]) -> dict[str, LocalFake]:
    """Return the loopback fakes of those venues that have one."""
    out = {}
    for name in names:
        fake = adapter_class(name).local_fake()
        if fake is not None:
            out[name] = fake
    return out


def history_hooks(name: str, config: VenueConfig) -> Any:
    """Return venue ``name``'s history hooks (``pmtape.history.backfill.VenueHistory``)."""
    try:
        path = HISTORY[name]
    except KeyError:
        known = ", ".join(sorted(HISTORY))
        raise ConfigError(f"no history backfill for venue {name!r} (has one: {known})") from None
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)(config)
