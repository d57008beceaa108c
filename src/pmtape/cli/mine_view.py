"""How `pmtape mine` (and the demo) print a mining result: three tables, ids never cut."""

from __future__ import annotations

from rich.segment import Segment, Segments
from rich.table import Table

from pmtape.cli.common import console, err_console
from pmtape.mine.miner import MineResult, skipped_summary


def print_mine_result(r: MineResult) -> None:
    """Print a miner result as three compact tables; skipped files as one line on stderr."""
    console.print(
        f"[bold]{r.venue}[/bold]: {r.snapshots} snapshots of {r.instruments} books "
        f"-> stats cache {r.stats_path}"
    )
    for title, rows, col, fmt in (
        ("deepest (avg top-3 size per side, summed)", r.top_depth, "avg_depth3", "{:,.0f}"),
        ("tightest average spread", r.top_spread, "avg_spread", "{:.4f}"),
        ("most quote updates", r.top_updates, "update_count", "{:,}"),
    ):
        table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        # Ids are for copying (a Polymarket token id has 77 digits): never cut or folded.
        table.add_column("market_id", no_wrap=True, overflow="ignore")
        table.add_column("outcome_id", no_wrap=True, overflow="ignore")
        table.add_column(col, justify="right", no_wrap=True)
        for row in rows:
            table.add_row(row.market_id, row.outcome_id, fmt.format(getattr(row, col)))
        _print_unsqueezed(table)
    report_skipped(r)


def _print_unsqueezed(table: Table) -> None:
    # Lay the table out as wide as it needs, even past the terminal (which then wraps the
    # line, not the id): console.print alone would squeeze it into the terminal's width.
    wide = console.options.update_width(10_000)
    width = max(console.width, console.measure(table, options=wide).maximum)
    lines = console.render_lines(table, console.options.update_width(width), pad=False)
    console.print(Segments([seg for line in lines for seg in (*line, Segment.line())]))


def report_skipped(r: MineResult) -> None:
    """Say on stderr which files a mining run skipped (nothing when there were none)."""
    if r.skipped:
        venue = f"{r.venue}: " if r.venue else ""
        line = f"pmtape: warning: {venue}{skipped_summary(r.skipped)}"
        err_console.print(line, markup=False, highlight=False)
