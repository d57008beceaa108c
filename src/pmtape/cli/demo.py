"""``pmtape demo``: discover + collect + mine on the built-in venues, then show where it all is."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from pmtape.cli.commands import collect_run, print_collect_summary, print_mine_result
from pmtape.cli.common import (
    ConfigOpt,
    DataDirOpt,
    SetOpt,
    VenueOpt,
    adapters_for,
    build_config,
    cli_errors,
    console,
)
from pmtape.config import Config
from pmtape.core.clock import now_ms
from pmtape.discovery.service import discover_once
from pmtape.mine.miner import mine

DEMO_SECONDS = 45.0


@cli_errors
def demo(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    venue: VenueOpt = None,
    set_: SetOpt = None,
    duration: float = typer.Option(DEMO_SECONDS, "--duration", min=1.0, help="Seconds to collect."),
) -> None:
    """Run the whole pipeline briefly on the local venues: discover, collect, mine, show files."""
    cfg = build_config(config, data_dir, venue, set_)
    console.rule("[bold]1. discover")
    for s in asyncio.run(discover_once(cfg.data_dir, adapters_for(cfg))):
        if s.error:
            raise typer.Exit(1)
        console.print(
            f"{s.venue}: {s.markets} markets, {s.instruments} instruments -> {s.snapshot_path}"
        )
    console.rule(f"[bold]2. collect for {duration:.0f}s")
    started = now_ms()
    summary = collect_run(cfg, duration)
    print_collect_summary(summary)
    for name, st in summary.venues.items():
        source = st.get("hot_source")
        if source == "stats":
            console.print(
                f"{name}: HOT set ({st['hot']} books) picked from the miner's stats cache"
            )
        else:
            console.print(
                f"{name}: HOT set ({st['hot']} books) picked by activity/recency "
                "(no stats cache yet; this demo writes one, so the next run uses it)"
            )
    console.rule("[bold]3. mine")
    for name in summary.venues:
        print_mine_result(mine(cfg.data_dir, name, started - 60_000, now_ms(), cfg.miner.top_n))
    console.rule("[bold]4. where everything is")
    _show_files(cfg)


def _show_files(cfg: Config) -> None:
    root = Path(cfg.data_dir)
    for sub in ("orderbook_snapshots", "trades", "metadata", "markets", "state", "stats"):
        files = sorted(p for p in (root / sub).rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in files)
        console.print(f"{root / sub}/  {len(files)} files, {size / 1e6:.2f} MB")
        for p in files[-2:]:
            console.print(f"    {p.relative_to(root)}")
    glob = f"{root}/orderbook_snapshots/**/*.parquet"
    console.print("\nRead it with:")
    console.print(f"  polars:  pl.scan_parquet('{glob}', hive_partitioning=True)", markup=False)
    console.print(
        f"  duckdb:  SELECT * FROM read_parquet('{glob}', hive_partitioning=true)",  # noqa: S608 - printed hint, not executed
        markup=False,
    )
    console.print(
        f"  pandas:  pd.read_parquet('{root}/orderbook_snapshots', engine='pyarrow')", markup=False
    )
