"""``pmtape demo``: discover + collect + mine on local venues, then show where it all is.

Venues that have a loopback fake (the real protocols over 127.0.0.1, synthetic markets) are
started in-process and the adapters pointed at them; the built-in sim venue needs none.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import typer

from pmtape.capture.verify import verify_bundle
from pmtape.cli.commands import print_collect_summary
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
from pmtape.cli.mine_view import print_mine_result
from pmtape.collect.collector import Collector, CollectSummary
from pmtape.config import Config
from pmtape.core.clock import iso_utc, now_ms
from pmtape.discovery.service import discover_once
from pmtape.mine.miner import mine
from pmtape.ops.coverage import coverage_report
from pmtape.proc.runner import run_until_signal
from pmtape.venues.base import LocalFake
from pmtape.venues.registry import available, local_fakes

DEMO_SECONDS = 45.0
SHOWN_PER_DIR = 2  # files listed under each directory's count


@cli_errors
def demo(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    venue: VenueOpt = None,
    set_: SetOpt = None,
    duration: float = typer.Option(DEMO_SECONDS, "--duration", min=1.0, help="Seconds to collect."),
    incidents: bool = typer.Option(
        True,
        "--incidents/--no-incidents",
        help="Force a disconnect on one local venue and an outage on another mid-run, so the "
        "coverage ledger has something to show.",
    ),
) -> None:
    """Run the whole pipeline briefly on local venues: discover, collect, mine, show coverage.

    With --incidents (the default) one local fake drops its sockets a third of the way in and
    another answers 503 to everything for a fifth of the run; step 4 shows those minutes in the
    coverage ledger, with their reasons.
    """
    base = build_config(config, data_dir, venue, set_)  # a bad config stops us here
    fakes = local_fakes(venue or available())
    wanted = venue or [n for n in available() if n in base.venue_names() or n in fakes]
    started = now_ms()

    async def main(stop: asyncio.Event) -> tuple[Config, CollectSummary]:
        async with contextlib.AsyncExitStack() as stack:
            extra: dict[str, Any] = {}
            for name, fake in fakes.items():
                await stack.enter_async_context(fake)
                extra.update(fake.config_overrides())
                extra[f"venues.{name}.enabled"] = True
                console.print(f"{name}: local fake venue started ({_url_hint(fake)})")
            cfg = build_config(config, data_dir, wanted, set_, extra)
            console.rule("[bold]1. discover")
            for s in await discover_once(cfg.data_dir, adapters_for(cfg)):
                if s.error:
                    raise typer.Exit(1)
                console.print(
                    f"{s.venue}: {s.markets} markets, {s.instruments} books -> {s.snapshot_path}"
                )
            console.rule(f"[bold]2. collect for {duration:.0f}s")
            collector = Collector(cfg, adapters_for(cfg))
            script = None
            if incidents and fakes:
                script = asyncio.create_task(_incidents(fakes, duration))
            try:
                summary = await collector.run_until(stop, duration)
            finally:
                if script is not None:
                    script.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await script
            return cfg, summary

    cfg, summary = run_until_signal(main)
    print_collect_summary(summary)
    _say_hot(summary)
    if summary.run_dir:
        check = verify_bundle(Path(summary.run_dir))
        console.print(f"capture verify: {'OK' if check.ok else check.first_error}")
    console.rule("[bold]3. mine")
    for name in summary.venues:
        print_mine_result(mine(cfg.data_dir, name, started - 60_000, now_ms(), cfg.miner.top_n))
    console.rule("[bold]4. coverage")
    _show_coverage(cfg, started)
    console.rule("[bold]5. where everything is")
    _show_files(cfg, summary.run_dir)


async def _incidents(fakes: dict[str, LocalFake], duration: float) -> None:
    """Script the demo's incidents: a forced disconnect, then an outage of another venue."""
    names = list(fakes)
    dropped = "polymarket" if "polymarket" in fakes else names[0]
    down = "limitless" if "limitless" in fakes else names[-1]
    await asyncio.sleep(duration / 3)
    console.print(f"{dropped}: incident: the fake drops every socket (a forced disconnect)")
    await fakes[dropped].disconnect_all()
    await asyncio.sleep(duration / 6)
    outage_s = max(1.0, duration / 5)
    console.print(f"{down}: incident: the fake answers 503 to everything for {outage_s:.0f}s")
    fakes[down].outage(True)
    try:
        await asyncio.sleep(outage_s)
    finally:
        fakes[down].outage(False)
    console.print(f"{down}: incident over")


def _show_coverage(cfg: Config, started: int) -> None:
    report = coverage_report(cfg.data_dir, started - started % 60_000, now_ms() + 1)
    for v in report.venues:
        reasons = ", ".join(f"{k} {n}" for k, n in sorted(v.by_reason.items())) or "none"
        console.print(
            f"{v.venue}: {v.instruments} instruments; instrument-minutes ok "
            f"{v.by_status.get('ok', 0)}, degraded {v.by_status.get('degraded', 0)}, missing "
            f"{v.by_status.get('missing', 0)} (reasons: {reasons})"
        )
    for g in report.gaps:
        if g.reason != "not_subscribed":
            console.print(
                f"  {g.venue} {iso_utc(g.start_ms)[11:19]}-{iso_utc(g.end_ms)[11:19]} "
                f"{g.status} {g.reason} ({g.instruments} instruments)"
            )
    console.print("  (whole table: pmtape coverage; the ledger: <data-dir>/coverage/)")


def _url_hint(fake: Any) -> str:
    urls = getattr(fake, "urls", {})
    return ", ".join(f"{k}={v}" for k, v in urls.items() if k.endswith("_url"))[:160]


def _say_hot(summary: CollectSummary) -> None:
    for name, st in summary.venues.items():
        if st.get("hot_source") == "stats":
            console.print(
                f"{name}: HOT set ({st['hot']} books) picked from the miner's stats cache"
            )
        else:
            console.print(
                f"{name}: HOT set ({st['hot']} books) picked by activity/recency "
                "(no stats cache yet; this demo writes one, so the next run uses it)"
            )


def _show_files(cfg: Config, run_dir: str | None) -> None:
    root = Path(cfg.data_dir)
    for sub in (
        "orderbook_snapshots",
        "trades",
        "metadata",
        "markets",
        "state",
        "stats",
        "coverage",
        "captures",
    ):
        files = sorted(p for p in (root / sub).rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in files)
        noun = "file" if len(files) == 1 else "files"
        console.print(f"{root / sub}/  {len(files)} {noun}, {size / 1e6:.2f} MB", markup=False)
        shown = files[-SHOWN_PER_DIR:]
        if len(files) > len(shown):
            console.print(f"    (the last {len(shown)} of {len(files)}:)")
        for p in shown:
            console.print(f"    {p.relative_to(root)}", markup=False)
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
    if run_dir:
        console.print(f"  raw:     pmtape capture inspect {run_dir} --limit 5", markup=False)
        console.print(f"           pmtape rebuild {run_dir}", markup=False)
