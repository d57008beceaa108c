"""The pipeline's verbs: config show, discover, collect, mine."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from pmtape import native
from pmtape.capture.bundle import resolve_run_dir
from pmtape.cli.common import (
    ConfigOpt,
    DataDirOpt,
    DurationOpt,
    JsonOpt,
    SetOpt,
    VenueOpt,
    adapters_for,
    build_config,
    cli_errors,
    console,
    err_console,
)
from pmtape.cli.mine_view import print_mine_result, report_skipped
from pmtape.collect.collector import Collector, CollectSummary
from pmtape.collect.rebuild import rebuild
from pmtape.config import Config, redacted_dict
from pmtape.core.clock import now_ms
from pmtape.core.errors import UsageError
from pmtape.discovery.service import discover_loop, discover_once
from pmtape.mine.miner import mine
from pmtape.proc.runner import echo_json, run_until_signal
from pmtape.proc.supervise import ChildSpec, ChildStatus, supervise
from pmtape.store.layout import SNAPSHOTS, rebuild_dir, table_dir

log = logging.getLogger("pmtape")


@cli_errors
def config_show(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    venue: VenueOpt = None,
    set_: SetOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One line of JSON instead of the indented document.")
    ] = False,
) -> None:
    """Print the effective config (defaults < file < PMTAPE_* env < flags), secrets masked."""
    cfg = build_config(config, data_dir, venue, set_)
    if as_json:
        echo_json(redacted_dict(cfg))
    else:
        typer.echo(json.dumps(redacted_dict(cfg), indent=2))


@cli_errors
def discover(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    venue: VenueOpt = None,
    set_: SetOpt = None,
    loop: Annotated[
        bool, typer.Option("--loop", help="Keep discovering on each venue's cadence.")
    ] = False,
    duration: DurationOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find each venue's active markets; write the universe, markets log and active snapshot."""
    cfg = build_config(config, data_dir, venue, set_)
    adapters = adapters_for(cfg)
    if not loop:
        summaries = asyncio.run(discover_once(cfg.data_dir, adapters))
        if as_json:
            echo_json(summaries)
        for s in summaries:
            if s.error:
                console.print(f"[red]{s.venue}: discovery failed: {s.error}[/red]")
            elif not as_json:
                console.print(
                    f"{s.venue}: {s.markets} markets, {s.instruments} instruments "
                    f"({s.elapsed_s:.2f}s) -> {s.snapshot_path}"
                )
        if any(s.error for s in summaries):
            raise typer.Exit(1)
        return
    intervals = {n: cfg.venue(n).discovery_interval_s for n in adapters}

    async def main(stop: asyncio.Event) -> None:
        if duration is not None:
            asyncio.get_running_loop().call_later(duration, stop.set)
        await discover_loop(cfg.data_dir, adapters, intervals, stop)

    run_until_signal(main)


@cli_errors
def collect(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    venue: VenueOpt = None,
    set_: SetOpt = None,
    duration: DurationOpt = None,
    capture: Annotated[
        bool, typer.Option("--capture/--no-capture", help="Record every raw frame (captures/).")
    ] = True,
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Name of the capture run (default: time-pid).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Collect books live for the active sets that `pmtape discover` publishes.

    Writes orderbook_snapshots/ (and trades/) under the data dir. SIGINT/SIGTERM flush
    everything buffered, then exit 0 (1 if rows could not be written).
    """
    cfg = build_config(config, data_dir, venue, set_)
    summary = collect_run(cfg, duration, capture=capture, run_id=run_id)
    if as_json:
        echo_json(summary)
    else:
        print_collect_summary(summary)
    if summary.rows_dropped:
        why = (
            f"{summary.writer_errors} Parquet writes failed; the log above says why"
            if summary.writer_errors
            else "the writer's queue overflowed"
        )
        err_console.print(
            f"pmtape: error: {summary.rows_dropped} rows could not be written to "
            f"{cfg.data_dir} ({why})",
            markup=False,
            highlight=False,
        )
    if summary.fatal:
        err_console.print(f"pmtape: error: {summary.fatal}", markup=False, highlight=False)
    if summary.fatal or summary.rows_dropped:
        raise typer.Exit(1)


def collect_run(
    cfg: Config, duration: float | None, *, capture: bool = True, run_id: str | None = None
) -> CollectSummary:
    """Run the collector until a signal or the duration; return its summary."""
    if not native.all_compiled():  # it works, several times slower: say so up front
        log.warning("%s", native.summary())
    collector = Collector(
        cfg, adapters_for(cfg), capture=capture and cfg.capture.enabled, run_id=run_id
    )

    async def main(stop: asyncio.Event) -> CollectSummary:
        return await collector.run_until(stop, duration)

    return run_until_signal(main, loop=cfg.collector.event_loop)


def print_collect_summary(s: CollectSummary) -> None:
    """Print the end-of-run summary of a collector."""
    console.print(
        f"collected for {s.duration_s:.1f}s: rows_accepted={s.rows_accepted} "
        f"rows_written={s.rows_written} trades_written={s.trades_written} "
        f"files_written={s.files_written} rows_dropped={s.rows_dropped} "
        f"loop_lag_max={s.loop_lag_max_ms:.1f}ms ({s.event_loop})"
    )
    if s.run_dir:
        console.print(f"capture: {s.run_dir}")
    if s.fatal:
        console.print(f"[red]fatal: {s.fatal}[/red]")


def _parse_when(text: str | None, default_ms: int) -> int:
    if text is None:
        return default_ms
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r}: expected an ISO time such as 2026-11-21T08:00") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


@cli_errors
def mine_cmd(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    venue: VenueOpt = None,
    set_: SetOpt = None,
    start: Annotated[
        str | None, typer.Option(help="Range start, ISO UTC (default: end - lookback).")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Range end, ISO UTC (default: now).")] = None,
    hours: Annotated[
        float | None, typer.Option(help="Lookback in hours when --start is absent.")
    ] = None,
    as_json: JsonOpt = False,
    allow_damage: Annotated[
        bool, typer.Option("--allow-damage", help="Exit 0 even if unreadable files were skipped.")
    ] = False,
) -> None:
    """Rank markets by depth, spread and activity; write the stats cache the scheduler reads.

    A file that cannot be read is skipped and named on stderr, and the run goes on: the rankings
    and stats cache cover every readable file. The exit is then 1, unless --allow-damage.
    """
    if hours is not None and not hours > 0:
        raise UsageError(f"--hours must be positive, got {hours:g}")
    cfg = build_config(config, data_dir, venue, set_)
    end_ms = _parse_when(end, now_ms())
    lookback_h = hours if hours is not None else cfg.miner.lookback_hours
    start_ms = _parse_when(start, end_ms - int(lookback_h * 3_600_000))
    if start_ms >= end_ms:
        raise UsageError("--start must be before --end")
    results = [
        mine(cfg.data_dir, name, start_ms, end_ms, cfg.miner.top_n)
        for name in _mine_venues(cfg, venue)
    ]
    if as_json:
        echo_json([r.to_dict() for r in results])
        for r in results:
            report_skipped(r)
    else:
        for r in results:
            print_mine_result(r)
    if any(r.skipped for r in results) and not allow_damage:
        raise typer.Exit(1)


def _mine_venues(cfg: Any, venue: list[str] | None) -> list[str]:
    root = table_dir(Path(cfg.data_dir), SNAPSHOTS)
    if venue:
        return list(venue)
    found = sorted(p.name.split("=", 1)[1] for p in root.glob("venue=*") if p.is_dir())
    if not found:
        raise UsageError(f"no snapshots under {root} (run `pmtape collect` or `pmtape demo` first)")
    return found


@cli_errors
def rebuild_cmd(
    run: Annotated[
        str, typer.Argument(help="Run id (under <data-dir>/captures) or a run directory.")
    ],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    set_: SetOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Archive to write (default: <data-dir>/rebuild/<RUN_ID>)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an archive already in --out.")
    ] = False,
    allow_damage: Annotated[
        bool, typer.Option("--allow-damage", help="Exit 0 even if damaged blocks were skipped.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild the Parquet archive of a capture run from its raw frames (deterministic).

    A damaged or missing block is skipped and named, and the rebuild goes on; it then exits 1
    unless --allow-damage.
    """
    cfg = build_config(config, data_dir, None, set_)
    run_dir = resolve_run_dir(run, cfg.data_dir)
    out_dir = out if out is not None else rebuild_dir(cfg.data_dir, run_dir.name)
    with console.status("rebuilding…") as status:
        summary = rebuild(
            run_dir, out_dir, force=force, progress=lambda n: status.update(f"{n:,} frames…")
        )
    if as_json:
        echo_json(summary)
    else:
        console.print(
            f"rebuilt {summary.run_dir}: {summary.frames:,} frames -> {summary.snapshot_rows:,} "
            f"snapshot rows, {summary.trade_rows:,} trades in {summary.files} files under "
            f"{summary.out_dir} (bad frames skipped: {summary.bad_frames}, "
            f"HTTP error answers not applied: {summary.http_error_answers})"
        )
        for lost in summary.damage:
            console.print(f"skipped: {lost}", markup=False, highlight=False)
    if summary.damage and not allow_damage:
        raise typer.Exit(1)


@cli_errors
def run_cmd(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    venue: VenueOpt = None,
    set_: SetOpt = None,
    duration: DurationOpt = None,
) -> None:
    """Run `discover --loop` and `collect` as two supervised processes (restarted if they die).

    The two meet only in the atomic active-set snapshots under state/. SIGINT/SIGTERM stop
    both cleanly (the collector flushes everything first).
    """
    cfg = build_config(config, data_dir, venue, set_)  # fail fast on a bad config
    adapters_for(cfg)
    flags = _passthrough_flags(config, cfg, venue, set_)
    base = [sys.executable, "-m", "pmtape"]
    specs = [
        ChildSpec("discover", [*base, "discover", "--loop", *flags]),
        ChildSpec("collect", [*base, "collect", *flags]),
    ]

    async def main(stop: asyncio.Event) -> list[ChildStatus]:
        if duration is not None:
            asyncio.get_running_loop().call_later(duration, stop.set)
        return await supervise(specs, stop)

    for st in run_until_signal(main):
        console.print(
            f"{st.name}: started {st.starts}x, exited by itself {st.exits}x,"
            f" last exit {st.last_exit}"
        )


def _passthrough_flags(
    config: Path | None, cfg: Config, venue: list[str] | None, sets: list[str] | None
) -> list[str]:
    flags = ["--data-dir", str(cfg.data_dir)]
    if config is not None:
        flags += ["--config", str(config)]
    for name in venue or []:
        flags += ["--venue", name]
    for item in sets or []:
        flags += ["--set", item]
    return flags
