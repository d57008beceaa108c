"""The collector process: every enabled venue's VenueCollector, one Parquet writer thread, the
run bundle (capture, run log, metrics), and the periodic status line.

This is collect's composition module, the one place below ``cli`` that reads the config tree:
``Collector`` and ``replay_parts`` (for ``pmtape rebuild``) turn it into the plain settings
objects the parts take (``WriterSettings``, ``VenueSettings`` with its ``ScheduleSettings``,
the capture's ``WriterOptions``).

Shutdown (SIGINT/SIGTERM or ``--duration``): the venues' tasks are cancelled, every row they
had buffered is handed to the writer, the writer flushes everything to disk and the capture
is flushed and closed before ``run`` returns — every row the collector accepted is on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from pmtape.capture.options import WriterOptions
from pmtape.collect.capture_run import CaptureRun, new_run_id
from pmtape.collect.coverage import ledger_table
from pmtape.collect.state import VenueBooks
from pmtape.collect.venue import VenueCollector, VenueSettings
from pmtape.config import Config, redacted_dict
from pmtape.core.clock import now_ms
from pmtape.core.errors import CaptureCorrupt, CaptureUnconfirmed, PmtapeError
from pmtape.proc.looplag import LoopLagMonitor
from pmtape.proc.runner import loop_name
from pmtape.schedule.scheduler import ScheduleSettings
from pmtape.store.active import active_snapshot_path
from pmtape.store.coverage import BLOCK_MS, write_coverage
from pmtape.store.parquet import ParquetSink, WriterSettings
from pmtape.store.rows import AUDITS
from pmtape.venues.base import VenueAdapter
from pmtape.venues.registry import create_adapter

_GC_GEN0 = 20_000
"""Allocations between young-generation collections while collecting (default 700): the
receive path allocates and frees many small objects; fewer, larger sweeps cost less."""
log = logging.getLogger(__name__)
_HEARTBEAT_S = 1.0
_COVERAGE_EVERY_S = 30.0


class CollectSummary(msgspec.Struct):
    """What a collector run did, for the final line and for tests.

    ``rows_written`` and ``trades_written`` count rows durably written to Parquet (snapshot
    rows and trade rows), exactly as the writer's status line does; ``rows_dropped`` counts
    rows of either table that never reached a file (queue full, or the disk refused them).
    """

    duration_s: float
    rows_accepted: int
    rows_dropped: int
    rows_written: int
    trades_written: int
    files_written: int
    loop_lag_max_ms: float
    venues: dict[str, dict[str, Any]]
    run_dir: str | None = None
    fatal: str | None = None
    event_loop: str = "asyncio"
    """Which event loop ran it: ``uvloop`` or ``asyncio``."""
    writer_errors: int = 0
    """Failed Parquet writes (each retried; rows still unwritten at the end are dropped)."""
    capture_dropped_frames: int = 0
    """Raw frames that never reached the capture (full disk, full queue)."""


class Collector:
    """Runs the venues' collectors, the Parquet writer and the capture until stopped."""

    def __init__(
        self,
        config: Config,
        adapters: Mapping[str, VenueAdapter],
        *,
        capture: bool | None = None,
        run_id: str | None = None,
    ) -> None:
        self.config = config
        self.sink = ParquetSink(config.data_dir, writer_settings(config))
        if capture is None:
            capture = config.capture.enabled
        self.run = (
            CaptureRun(
                config.data_dir,
                list(adapters),
                capture_options(config),
                config_doc=redacted_dict(config),
                run_id=run_id,
            )
            if capture
            else None
        )
        self.run_id = self.run.bundle.run_id if self.run is not None else (run_id or new_run_id())
        self._coverage_interval_s = config.collector.coverage_interval_s
        self.coverage_errors = 0
        self._log_interval_s = config.collector.log_interval_s
        self.venues = {name: self._venue(name, a) for name, a in adapters.items()}
        self.lag = LoopLagMonitor()
        self.fatal: str | None = None
        self._last_status: tuple[float, dict[str, int]] = (time.monotonic(), {})

    def _venue(self, name: str, adapter: VenueAdapter) -> VenueCollector:
        cfg = self.config
        venue = VenueCollector(
            adapter,
            venue_settings(cfg, name),
            data_dir=cfg.data_dir,
            active_path=active_snapshot_path(cfg.data_dir, name),
            sink=self.sink,
            recorder=self.run.recorder(name) if self.run else None,
        )
        if self.run is not None:
            run = self.run
            venue.event_log = lambda kind, fields: run.event(name, kind, fields)
        venue.on_first_subscribe = self._freeze_long_lived
        return venue

    def _freeze_long_lived(self) -> None:
        # A venue's first subscriptions built its books and session state, which live as
        # long as the run: out of the sweeps with them, or the first full collection walks
        # them all (60-120 ms of loop stall at 5,000 books). Once per venue, so the
        # cyclic garbage a freeze also keeps stays bounded. Venue tasks run only inside
        # run_until, which unfreezes at its end.
        gc.freeze()

    async def run_until(
        self, stop: asyncio.Event, duration_s: float | None = None
    ) -> CollectSummary:
        """Collect until ``stop`` is set or ``duration_s`` passed; flush everything; summarize."""
        started = time.monotonic()
        self.sink.start()
        threshold = gc.get_threshold()
        gc.collect()
        gc.freeze()  # what start-up built (config, instruments) is no garbage: skip it
        gc.set_threshold(_GC_GEN0, *threshold[1:])
        tasks = [asyncio.create_task(v.run(), name=f"collect-{n}") for n, v in self.venues.items()]
        if self.run is not None and self.config.capture.confirm_timeout_s > 0:
            tasks.append(asyncio.create_task(self._confirm_start(), name="confirm"))
        helpers = [
            asyncio.create_task(self.lag.run(), name="loop-lag"),
            asyncio.create_task(self._status_loop(), name="status"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self._coverage_loop(), name="coverage"),
        ]
        try:
            await self._wait(stop, tasks, duration_s)
        finally:
            await self._shutdown([*tasks, *helpers])
            gc.set_threshold(*threshold)
            gc.unfreeze()
        return self._summary(time.monotonic() - started)

    async def _wait(
        self, stop: asyncio.Event, tasks: list[asyncio.Task[None]], duration_s: float | None
    ) -> None:
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait(
            [waiter, *tasks], timeout=duration_s, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        for task in done:
            exc = None if task is waiter else task.exception()
            if exc is not None:
                root = _first_leaf(exc)
                self.fatal = f"{task.get_name()}: {type(root).__name__}: {root}"
                log.error("fatal: %s", self.fatal, exc_info=exc)

    async def _confirm_start(self) -> None:
        """Fail the run unless every venue delivered data within the confirmation window.

        A venue confirms with ``capture.confirm_min_events`` book updates and trades applied
        (what its frames and REST bodies carried, not keepalives or acks). Confirmed, this
        task waits out the run; unconfirmed, it raises, which stops the run as fatal.
        """
        cap = self.config.capture
        await asyncio.sleep(cap.confirm_timeout_s)
        quiet = unconfirmed(self.venues, cap.confirm_min_events)
        if quiet:
            raise CaptureUnconfirmed(
                f"no data from {', '.join(quiet)} within {cap.confirm_timeout_s:g}s of start"
                f" (capture.confirm_min_events={cap.confirm_min_events},"
                f" capture.confirm_timeout_s={cap.confirm_timeout_s:g})"
            )
        log.info("start-up confirmed: every venue delivered data")
        await asyncio.Event().wait()

    async def _shutdown(self, tasks: list[asyncio.Task[None]]) -> None:
        if self.run is not None:
            self.run.stopping = True
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        end = now_ms()
        for venue in self.venues.values():
            venue.flush_to_sink()
            venue.finish_coverage(end)
            with contextlib.suppress(Exception):
                await venue.session.aclose()
        await asyncio.to_thread(self._write_coverage, self._take_coverage(None))
        await asyncio.to_thread(self.sink.close)
        if self.run is not None:
            if self.fatal is not None:
                missing = [
                    k
                    for v in self.venues.values()
                    for k, b in v.state.books.items()
                    if b.last_recv_ms is None
                ]
                self.run.fatal(self.fatal, missing)
            await asyncio.to_thread(self.run.finish, "fatal" if self.fatal else "normal")

    async def _coverage_loop(self) -> None:
        """Write each venue's ledger rows once their ten-minute block is closed."""
        while True:
            await asyncio.sleep(_COVERAGE_EVERY_S)
            # Blocks before the one now open are complete in every venue's tracker. Rows are
            # taken on the loop (the trackers live there), written in a thread.
            rows = self._take_coverage(now_ms() // BLOCK_MS * BLOCK_MS)
            if rows:
                await asyncio.to_thread(self._write_coverage, rows)

    def _take_coverage(self, before_ms: int | None) -> dict[str, dict[str, list[Any]]]:
        """Take each venue's closed ledger rows of blocks before ``before_ms`` (None: all).

        A block is taken whole, once: never the block of a tracker's still-open interval.
        """
        taken = {}
        for name, venue in self.venues.items():
            cut = before_ms
            start = venue.coverage.open_start
            if cut is not None and start is not None:
                cut = min(cut, start - start % BLOCK_MS)
            rows = venue.coverage.take_columns(cut)
            if rows["ts"]:
                taken[name] = rows
        return taken

    def _write_coverage(self, taken: Mapping[str, dict[str, list[Any]]]) -> None:
        """Build and write the taken ledger rows (in a worker thread)."""
        for name, cols in taken.items():
            try:
                rows = ledger_table(cols)
                write_coverage(
                    self.config.data_dir, name, self.run_id, self._coverage_interval_s, rows
                )
            except (OSError, PmtapeError) as exc:  # the archive's rows matter more: count, go on
                self.coverage_errors += 1
                log.error("%s: coverage ledger not written: %s", name, exc)

    async def _heartbeat_loop(self) -> None:
        if self.run is None:
            return
        queue_cap = self.sink.settings.queue_max_batches
        while True:
            await asyncio.sleep(_HEARTBEAT_S)
            ws = self.sink.stats()
            self.run.heartbeat(
                self.lag.drain(),
                dropped_total=int(ws["dropped_rows"]),
                pressure=ws["queue_size"] > 0.8 * queue_cap,
                venues={n: v.status() for n, v in self.venues.items()},
            )

    async def _status_loop(self) -> None:
        interval = self._log_interval_s
        while True:
            await asyncio.sleep(interval)
            for line in self.status_lines():
                log.info("%s", line)

    def status_lines(self) -> list[str]:
        """Return one status line per venue plus one for the writer."""
        now = time.monotonic()
        then, prev = self._last_status
        elapsed = max(now - then, 1e-9)
        lines = []
        current: dict[str, int] = {}
        for name, venue in self.venues.items():
            st = venue.status()
            rows = int(st.get("rows_submitted", 0))
            current[name] = rows
            rate = (rows - prev.get(name, 0)) / elapsed
            lines.append(
                f"{name}: connected={st['connected']} subs={st['subs']} (hot {st['hot']}, "
                f"warm {st['warm']}) universe={st['universe']} snapshots/s={rate:.1f} "
                f"frames={st.get('frames', 0)} http={st.get('http_bodies', 0)} "
                f"http_errors={_by_status(st['http_errors'])} "
                f"bad={st.get('norm_bad', 0)} "
                f"unknown={st.get('norm_unknown', 0)} "
                + (
                    f"hash_ok={st['norm_hash_ok']} hash_mismatch={st['norm_hash_mismatch']} "
                    if "norm_hash_ok" in st
                    else ""
                )
                + f"apply_errors={st.get('apply_errors', 0)} "
                f"audit_rows={st.get('audit_rows', 0)}{_audits(st)}"
                + (f" capture_dropped={self.run.dropped_frames(name)}" if self.run else "")
            )
        ws = self.sink.stats()
        lines.append(
            f"writer: rows_written={ws['snapshot_rows_written']} "
            f"trades_written={ws['trade_rows_written']} files={ws['files_written']} "
            f"flushes={ws['flushes']} queue={ws['queue_size']} dropped={ws['dropped_rows']} "
            f"errors={ws['errors']} loop_lag_max={self.lag.max_ms:.1f}ms"
        )
        self._last_status = (now, current)
        return lines

    def _summary(self, duration_s: float) -> CollectSummary:
        ws = self.sink.stats()
        submitted = sum(v.counters["rows_submitted"] for v in self.venues.values())
        return CollectSummary(
            duration_s=round(duration_s, 3),
            rows_accepted=submitted - int(ws["dropped_snapshot_rows"]),
            rows_dropped=int(ws["dropped_rows"]),
            rows_written=int(ws["snapshot_rows_written"]),
            trades_written=int(ws["trade_rows_written"]),
            files_written=int(ws["files_written"]),
            loop_lag_max_ms=round(self.lag.max_ms, 3),
            venues={n: v.status() for n, v in self.venues.items()},
            run_dir=str(self.run.path) if self.run else None,
            fatal=self.fatal,
            event_loop=loop_name(asyncio.get_running_loop()),
            writer_errors=int(ws["errors"]),
            capture_dropped_frames=(
                sum(self.run.dropped_frames(n) for n in self.venues) if self.run else 0
            ),
        )


def unconfirmed(venues: Mapping[str, VenueCollector], min_events: int) -> list[str]:
    """Return the venues that applied fewer than ``min_events`` book updates and trades."""
    return [n for n, v in venues.items() if v.data_events() < min_events]


def writer_settings(config: Config) -> WriterSettings:
    """Return the Parquet writer's settings from the config's ``writer`` section."""
    w = config.writer
    return WriterSettings(
        flush_rows=w.flush_rows,
        flush_s=w.flush_s,
        bucket_minutes=w.bucket_minutes,
        compression_level=w.compression_level,
        queue_max_batches=w.queue_max_batches,
    )


def venue_settings(config: Config, name: str) -> VenueSettings:
    """Return one venue's collection settings from its section and the collector's."""
    v = config.venue(name)
    return VenueSettings(
        schedule=ScheduleSettings(
            max_subs=v.max_subs,
            hot_count=v.hot_count,
            rotation_period_s=v.rotation_period_s,
            churn_limit_per_minute=v.subscription_churn_limit_per_minute,
        ),
        top_k=config.top_k,
        stale_after_ms=int(v.stale_after_s * 1000) or None,
        snapshot_interval_ms_hot=v.snapshot_interval_ms_hot,
        snapshot_interval_ms_warm=v.snapshot_interval_ms_warm,
        audit_every_minutes=v.audit_every_minutes,
        audit_sample=v.audit_sample,
        snapshot_tick_ms=config.collector.snapshot_tick_ms,
        state_poll_s=config.collector.state_poll_s,
        pair_tolerance_e6=round(config.collector.pair_tolerance * 1_000_000),
        coverage_interval_ms=round(config.collector.coverage_interval_s * 1000),
    )


def capture_options(config: Config) -> WriterOptions:
    """Return the capture writer's options from the config's ``capture`` section."""
    cap = config.capture
    return WriterOptions(
        flush_interval_s=cap.flush_interval_s,
        segment_max_bytes=cap.segment_max_mb << 20,
        segment_max_s=cap.segment_max_s,
        zstd_level=cap.zstd_level,
    )


@dataclass(frozen=True, slots=True)
class ReplayParts:
    """What ``pmtape rebuild`` builds from a run's recorded config: books and file shape."""

    writer: WriterSettings
    books: dict[str, VenueBooks]
    """Each venue's books (in shard order), set up exactly as the live collector's."""
    coverage_interval_ms: int = 60_000
    """The coverage ledger's time unit the run used."""


def replay_parts(meta: Mapping[str, Any], run_dir: Path) -> ReplayParts:
    """Return the parts of a rebuild from a capture manifest's ``meta`` (its config, venues)."""
    try:
        config = Config.model_validate(meta["config"])
        shards = sorted(meta["venues"], key=lambda v: meta["venues"][v])
    except (KeyError, TypeError, ValueError) as exc:
        raise CaptureCorrupt(
            f"{run_dir}: manifest has no usable collector config ({exc})"
        ) from None
    return ReplayParts(
        writer_settings(config),
        _replay_books(config, shards),
        round(config.collector.coverage_interval_s * 1000),
    )


def _replay_books(config: Config, venues: Sequence[str]) -> dict[str, VenueBooks]:
    books = {}
    for venue in venues:
        settings = venue_settings(config, venue)
        normalizer = create_adapter(venue, config.venue(venue)).new_normalizer()
        books[venue] = VenueBooks(
            venue, normalizer, settings.top_k, settings.stale_after_ms, settings.pair_tolerance_e6
        )
    return books


def _audits(st: Mapping[str, Any]) -> str:
    """Return the invariant audit failures by audit (`` (crossed:2,pair_drift:1)``, or "")."""
    failed = ",".join(f"{a}:{st[f'audit_{a}']}" for a in AUDITS if st.get(f"audit_{a}"))
    return f" ({failed})" if failed else ""


def _by_status(counts: Mapping[int, int]) -> str:
    """Return HTTP error counts as ``429:3,503:1`` (``0`` when there were none)."""
    return ",".join(f"{status}:{n}" for status, n in counts.items()) or "0"


def _first_leaf(exc: BaseException) -> BaseException:
    """Return the first real error inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
