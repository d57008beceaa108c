"""``pmtape`` — the one command; each verb is a thin layer over the library."""

from __future__ import annotations

from typing import Annotated

import typer

from pmtape import __version__
from pmtape.cli import commands, demo
from pmtape.cli.capture_cmd import capture_app
from pmtape.cli.coverage_cmd import coverage_cmd
from pmtape.cli.fake_cmd import fake_app

app = typer.Typer(
    name="pmtape",
    help=(
        "pmtape records prediction-market order books: discover markets, collect their books "
        "live, write a Parquet archive, and mine it. Start with `pmtape demo`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")

config_app.command("show")(commands.config_show)
app.command("discover")(commands.discover)
app.command("collect")(commands.collect)
app.command("mine")(commands.mine_cmd)
app.command("rebuild")(commands.rebuild_cmd)
app.command("coverage")(coverage_cmd)
app.command("run")(commands.run_cmd)
app.command("demo")(demo.demo)
app.add_typer(capture_app, name="capture")
app.add_typer(fake_app, name="fake-venue")


@app.command("version")
def version() -> None:
    """Print pmtape's version."""
    typer.echo(__version__)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print pmtape's version and exit.",
        ),
    ] = False,
) -> None:
    pass


def main() -> None:
    """Entry point of the ``pmtape`` console script."""
    app()
