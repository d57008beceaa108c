"""``pmtape fake-venue NAME``: local fake venues that speak the real protocols.

Every venue whose adapter declares a fake command is mounted here under its registered name,
built from its declared knobs (``cli.fake_knobs``); this module names no venue.
"""

from __future__ import annotations

import typer

from pmtape.cli.common import cli_errors
from pmtape.cli.fake_knobs import build_command
from pmtape.venues.registry import fake_commands

fake_app = typer.Typer(
    help="Run a local fake venue (loopback, real wire protocols, fault knobs).",
    no_args_is_help=True,
)

for _name, _spec in fake_commands().items():
    fake_app.command(_name)(cli_errors(build_command(_spec)))
