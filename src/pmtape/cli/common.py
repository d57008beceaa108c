"""Options every command shares, config building, and turning errors into one clear line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from pmtape.config import Config, load_config
from pmtape.core.errors import ConfigError, PmtapeError
from pmtape.proc.logs import setup_logging
from pmtape.venues.base import VenueAdapter
from pmtape.venues.registry import create_adapter

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML config file (default: $PMTAPE_CONFIG, else ./config/pmtape.toml if present).",
        show_default=False,
    ),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", "-d", help="Where the archive lives (overrides data_dir).", show_default=False
    ),
]
VenueOpt = Annotated[
    list[str] | None,
    typer.Option("--venue", "-v", help="Limit to this venue (repeatable).", show_default=False),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override any key, e.g. --set venues.sim.markets=200 (repeatable).",
        show_default=False,
    ),
]
DurationOpt = Annotated[
    float | None,
    typer.Option(
        "--duration", help="Stop after this many seconds (default: run until Ctrl-C).", min=0.1
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of text.")
]

P = ParamSpec("P")
R = TypeVar("R")


def build_config(
    config: Path | None,
    data_dir: Path | None,
    venue: list[str] | None,
    sets: list[str] | None,
    extra: dict[str, Any] | None = None,
) -> Config:
    """Load the effective config from file, env and flags."""
    overrides: dict[str, Any] = dict(extra or {})
    pairs: dict[str, Any] = {}
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. venues.sim.markets=200")
        pairs[key.strip()] = value.strip()
    if data_dir is not None:
        overrides["data_dir"] = str(data_dir)
    cfg = load_config(config, overrides=overrides, venues=venue, sets=pairs)
    setup_logging(cfg.log_level)
    return cfg


def adapters_for(cfg: Config) -> dict[str, VenueAdapter]:
    """Build the adapters of every enabled venue."""
    names = cfg.venue_names()
    if not names:
        raise ConfigError("no venue is enabled (set venues.<name>.enabled = true or pass --venue)")
    return {name: create_adapter(name, cfg.venue(name)) for name in names}


def cli_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn pmtape errors into one line on stderr and the error's exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except PmtapeError as exc:
            kind = "config error" if isinstance(exc, ConfigError) else "error"
            err_console.print(f"pmtape: {kind}: {exc}", markup=False, highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:  # a path the user gave that cannot be read or written
            where = f": {exc.filename}" if exc.filename else ""
            err_console.print(f"pmtape: error: {exc.strerror or exc}{where}", markup=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return wrapper
