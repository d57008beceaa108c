"""``pmtape coverage``: which minutes of which instruments the archive holds, and why not."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from pmtape.cli.common import (
    ConfigOpt,
    DataDirOpt,
    JsonOpt,
    SetOpt,
    build_config,
    cli_errors,
    console,
)
from pmtape.core.clock import iso_utc, now_ms
from pmtape.core.errors import UsageError
from pmtape.ops.coverage import CoverageReport, coverage_report
from pmtape.store.coverage import coverage_dir

_GAPS_SHOWN = 40


@cli_errors
def coverage_cmd(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    venue: Annotated[
        str | None, typer.Option("--venue", "-v", help="Only this venue.", show_default=False)
    ] = None,
    hours: Annotated[float, typer.Option(help="How far back from now to look, in hours.")] = 24.0,
    set_: SetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the coverage ledger: per venue, instrument-minutes ok, degraded and missing.

    Every minute of every instrument in the active set is accounted for: ok (rows from a live
    book), degraded or missing, with a reason — not_subscribed, disconnected, stale, venue_down,
    rate_limited, hash_mismatch, or collector_down for minutes no collector ran (from the run
    bundles under captures/). Gaps lists the stretches that were not ok. The ledger itself is
    Parquet under <data-dir>/coverage/ (one row per venue, instrument and minute), for queries.
    """
    if not hours > 0:
        raise UsageError(f"--hours must be positive, got {hours:g}")
    cfg = build_config(config, data_dir, None, set_)
    root = coverage_dir(cfg.data_dir)
    if not root.is_dir():
        raise UsageError(
            f"no coverage ledger under {root} (run `pmtape collect` or `pmtape demo` first)"
        )
    until = now_ms()
    report = coverage_report(cfg.data_dir, until - int(hours * 3_600_000), until + 1, venue)
    if as_json:
        typer.echo(_json(report))
        return
    _print(report, hours)


def _json(report: CoverageReport) -> str:
    return json.dumps(report.to_dict(), indent=2)


def _print(report: CoverageReport, hours: float) -> None:
    if not report.venues:
        console.print(f"no coverage rows in the last {hours:g} h")
        return
    table = Table(title=f"coverage, last {hours:g} h (instrument-intervals)")
    for col in ("venue", "from", "to", "interval", "instruments", "ok", "degraded", "missing"):
        table.add_column(col, justify="left" if col in ("venue", "from", "to") else "right")
    table.add_column("reasons")
    for v in report.venues:
        table.add_row(
            v.venue,
            iso_utc(v.start_ms)[:19],
            iso_utc(v.end_ms)[:19],
            f"{v.interval_s:g}s",
            f"{v.instruments:,}",
            f"{v.by_status.get('ok', 0):,} ({v.ok_share:.1%})",
            f"{v.by_status.get('degraded', 0):,}",
            f"{v.by_status.get('missing', 0):,}",
            ", ".join(f"{k} {n:,}" for k, n in sorted(v.by_reason.items())),
        )
    console.print(table)
    if not report.gaps:
        console.print("no gaps: every instrument ok in every interval")
        return
    gaps = Table(title="gaps (consecutive intervals not ok)")
    for col in ("venue", "from", "to", "status", "reason", "instruments"):
        gaps.add_column(col, justify="right" if col == "instruments" else "left")
    for g in report.gaps[:_GAPS_SHOWN]:
        gaps.add_row(
            g.venue,
            iso_utc(g.start_ms)[:23],
            iso_utc(g.end_ms)[:23],
            g.status,
            g.reason,
            f"{g.instruments:,}",
        )
    console.print(gaps)
    if len(report.gaps) > _GAPS_SHOWN:
        console.print(f"… and {len(report.gaps) - _GAPS_SHOWN} more gaps (--json lists them all)")
