"""``pmtape history``: backfill venue history into bronze Parquet, and show what is there."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from pmtape.cli.common import ConfigOpt, DataDirOpt, JsonOpt, SetOpt, build_config, cli_errors
from pmtape.cli.common import console as out
from pmtape.core.errors import UsageError
from pmtape.history.backfill import (
    BackfillResult,
    BackfillSettings,
    VenueHistory,
    backfill_prices,
    backfill_trades,
    history_dir,
    summary_of,
)
from pmtape.history.fetch import Progress as RunProgress
from pmtape.proc.runner import echo_json, run_until_signal
from pmtape.venues.registry import history_hooks

history_app = typer.Typer(
    help="Backfill venue history (trades, prices) into bronze Parquet under data_dir/history.",
    no_args_is_help=True,
)
MODES = ("all", "markets", "trades", "prices", "leaderboard")
BUILT = ("trades", "prices")
RUNNERS = {"trades": backfill_trades, "prices": backfill_prices}


def _since_s(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise UsageError(f"--since {text!r}: expected a date YYYY-MM-DD") from None
    return int(day.timestamp())


@history_app.command("backfill")
@cli_errors
def backfill(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    set_: SetOpt = None,
    venue: Annotated[str, typer.Option("--venue", "-v", help="Venue to backfill.")] = "polymarket",
    mode: Annotated[str, typer.Option("--mode", help=f"One of {', '.join(MODES)}.")] = "trades",
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Start over: drop saved cursors and the table's bronze.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", help="Markets to walk at most.", min=1)
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Stop gracefully after SECS.", min=0.1)
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Skip rows older than DATE (YYYY-MM-DD).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="Fetch workers.", min=1)] = 2,
    rate_share: Annotated[
        float, typer.Option("--rate-share", help="Share of the documented limits to use.")
    ] = 0.8,
    page_size: Annotated[
        int | None, typer.Option("--page-size", help="Rows per page asked (venue max if unset).")
    ] = None,
    flush_interval: Annotated[
        float,
        typer.Option("--flush-interval", help="Store and commit at least this often, s.", min=0.05),
    ] = 2.0,
    as_json: JsonOpt = False,
) -> None:
    """Walk every market's trades, or every token's prices (``all``: both), from saved cursors."""
    if mode not in MODES:
        raise UsageError(f"--mode {mode!r}: expected one of {', '.join(MODES)}")
    if mode not in BUILT and mode != "all":
        raise UsageError(f"--mode {mode}: not built yet (built: {', '.join(BUILT)})")
    cfg = build_config(config, data_dir, [venue], set_)
    hooks = history_hooks(venue, cfg.venue(venue))
    if page_size is not None:
        hooks.page_size = page_size
    settings = BackfillSettings(
        data_dir=Path(cfg.data_dir),
        fresh=fresh,
        limit=limit,
        timeout_s=timeout,
        since_s=_since_s(since),
        workers=workers,
        rate_share=rate_share,
        flush_interval_s=flush_interval,
    )
    tables = list(BUILT) if mode == "all" else [mode]

    async def main(stop: asyncio.Event) -> list[tuple[str, BackfillResult]]:
        done: list[tuple[str, BackfillResult]] = []
        for table in tables:  # trades first: the prices walk reads their time spans
            if stop.is_set():
                break
            done.append((table, await _run_table(table, hooks, settings, stop, as_json)))
        return done

    results = run_until_signal(main)
    if as_json:
        echo_json({table: _result_json(r) for table, r in results})
        return
    for table, result in results:
        _print_result(table, result)


async def _run_table(
    table: str,
    hooks: VenueHistory,
    settings: BackfillSettings,
    stop: asyncio.Event,
    quiet: bool,
) -> BackfillResult:
    progress = RunProgress()
    run = RUNNERS[table](hooks, settings, progress=progress, stop=stop)
    if quiet:
        return await run
    with _live(table, progress) as tick:
        task = asyncio.ensure_future(run)
        while not task.done():
            tick()
            await asyncio.wait({task}, timeout=0.25)
        tick()
        return task.result()


def _result_json(r: BackfillResult) -> dict[str, object]:
    return {
        "run_id": r.run_id,
        "stop_reason": r.stop_reason,
        "keys": r.keys,
        "rows_stored": r.rows_stored,
        "removed_parts": r.removed_parts,
        "summary": r.summary,
    }


@contextlib.contextmanager
def _live(table: str, p: RunProgress) -> Iterator[Callable[[], None]]:
    bar = Progress(
        TextColumn(table),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
        console=out,
        transient=False,
    )
    task = bar.add_task(table, total=None, info="")

    def tick() -> None:
        elapsed = max(time.monotonic() - p.started_s, 1e-9)
        info = (
            f"{p.rows:,} rows ({p.rows / elapsed:,.0f}/s), {p.pages:,} pages, "
            f"{p.errors} errors, {p.refusals} refusals, {p.malformed} malformed"
        )
        bar.update(task, total=p.keys_total or None, completed=p.keys_done, info=info)

    with bar:
        yield tick


def _print_result(table: str, r: BackfillResult) -> None:
    keys = "markets" if table == "trades" else "tokens"
    out.print(
        f"{table} run {r.run_id}: {r.stop_reason}; {r.rows_stored:,} rows stored in "
        f"{r.elapsed_s:.1f}s over {r.keys} {keys} (raw bodies in {r.run_dir})"
    )
    if r.removed_parts:
        out.print(f"removed {len(r.removed_parts)} part(s) an interrupted run never committed")
    out.print(_summary_table({table: r.summary}))


_MEASURES = (
    ("rows", "rows stored"),
    ("keys_complete", "keys complete"),
    ("keys_partial", "keys partial"),
    ("keys_empty", "keys empty"),
    ("keys_failed", "keys failed"),
    ("keys_pending", "keys pending"),
    ("requests", "requests"),
    ("pages", "pages"),
    ("empty", "empty answers"),
    ("errors", "errors (429/5xx/timeout)"),
    ("refusals", "refusals (other 4xx)"),
    ("malformed", "malformed bodies"),
    ("repeats", "repeated rows dropped"),
)


def _summary_table(summary: dict[str, dict[str, int]]) -> Table:
    table = Table(title="history ledger")
    table.add_column("")
    for name in summary:
        table.add_column(name, justify="right")
    for key, label in _MEASURES:
        table.add_row(label, *(f"{s.get(key, 0):,}" for s in summary.values()))
    return table


@history_app.command("status")
@cli_errors
def status(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    set_: SetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show what the history holds per table: rows, keys per status, every request outcome."""
    cfg = build_config(config, data_dir, None, set_)
    summary = summary_of(Path(cfg.data_dir))
    if as_json:
        echo_json(summary)
        return
    if not summary:
        out.print(f"no history under {history_dir(Path(cfg.data_dir))} yet")
        return
    out.print(_summary_table(summary))
