"""One venue's live collection: session, subscriptions, snapshot cadence, hand-off to writers.

Receive path (``on_frame``): record the raw frame, then normalize and apply it to the books;
nothing else, never awaiting, never doing I/O. Everything slower — choosing subscriptions,
reading the active set, taking snapshots, handing rows to the writer — runs in this venue's
own tasks, so one venue's trouble never slows another's.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pmtape.capture.recorder import Recorder
from pmtape.collect.coverage import CoverageTracker
from pmtape.collect.snapshotter import Snapshotter
from pmtape.collect.state import VenueBooks
from pmtape.core.book import Book
from pmtape.core.clock import mono_s, now_ms
from pmtape.core.errors import VenueError
from pmtape.core.events import BookSnapshot
from pmtape.core.instrument import Instrument
from pmtape.net.http import error_answer
from pmtape.net.session import HttpMeta
from pmtape.schedule.churn import SubscriptionPlanner
from pmtape.schedule.scheduler import Scheduler, ScheduleSettings
from pmtape.schedule.scores import load_scores
from pmtape.store.active import ActiveSetReader
from pmtape.store.parquet import ParquetSink
from pmtape.venues.base import Normalizer, VenueAdapter

log = logging.getLogger(__name__)

HOT = "hot"
WARM = "warm"
_SCHEDULE_EVERY_S = 1.0
_SCORES_EVERY_S = 60.0
# Audit bodies are captured on their own stream; rebuild skips it (they were never applied).
AUDIT_STREAM = "audit"


@dataclass(frozen=True, slots=True)
class VenueSettings:
    """One venue's collection numbers: book depth, staleness, snapshot cadence, audits, schedule."""

    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    top_k: int = 50
    """Levels kept per side in snapshots."""
    stale_after_ms: int | None = 600_000
    """A book with no update for this long is 'stale' (None: never)."""
    snapshot_interval_ms_hot: int = 2000
    snapshot_interval_ms_warm: int = 10000
    audit_every_minutes: float = 0.0
    """Compare a sample of live books with REST this often (0: never)."""
    audit_sample: int = 20
    snapshot_tick_ms: int = 50
    """Snapshotter wake-up granularity."""
    state_poll_s: float = 5.0
    """How often the active snapshot is re-read."""
    pair_tolerance_e6: int = 10_000
    """How far YES bid + NO ask of a binary pair may drift from 1 before a row is flagged."""
    coverage_interval_ms: int = 60_000
    """The coverage ledger's time unit."""


class VenueCollector:
    """Collects one venue: subscribe what the scheduler targets, keep books, snapshot them."""

    def __init__(
        self,
        adapter: VenueAdapter,
        settings: VenueSettings,
        *,
        data_dir: Path,
        active_path: Path,
        sink: ParquetSink,
        recorder: Recorder | None = None,
    ) -> None:
        self.name = adapter.name
        self.adapter = adapter
        self.settings = settings
        self.data_dir = data_dir
        self.sink = sink
        self.recorder = recorder
        self.session = adapter.new_session()
        self.state = VenueBooks(
            self.name,
            adapter.new_normalizer(),
            settings.top_k,
            settings.stale_after_ms,
            settings.pair_tolerance_e6,
        )
        self.coverage = CoverageTracker(self.name, settings.coverage_interval_ms)
        self.scheduler = Scheduler.from_settings(self.name, settings.schedule)
        self.planner = SubscriptionPlanner(settings.schedule.churn_limit_per_minute)
        self.active = ActiveSetReader(active_path)
        self.snapshotter = Snapshotter()
        self.instruments: dict[str, Instrument] = {}  # the universe, by instrument key
        self.tier: dict[str, str] = {}  # subscribed instrument key -> tier
        self.counters = self.state.counters
        self.http_errors: Counter[int] = Counter()  # HTTP error answers by status
        self.hot_source: str | None = None
        # Where lifecycle records go (the run log when capturing): kind, fields.
        self.event_log: Callable[[str, dict[str, Any]], None] | None = None
        # Called once the first subscriptions are made (their books exist): the collector
        # freezes what is now long-lived out of the garbage collector's sweeps.
        self.on_first_subscribe: Callable[[], None] | None = None
        self._tick_s = settings.snapshot_tick_ms / 1000
        self._state_poll_s = settings.state_poll_s
        self._scores: dict[str, float] | None = None
        self._scores_checked = float("-inf")
        self._retired_applied = 0  # how many retired instruments the universe already left out
        self._tiers_applied: dict[str, str] = {}

    # -- receive path (called by the session on the loop, never awaits) -------------------

    def on_frame(self, stream: str, payload: bytes, ts_recv_ns: int) -> None:
        """Record one raw frame, then apply it to the books."""
        if self.recorder is not None:
            self.recorder.frame(stream, payload, ts_recv_ns)
        counters = self.counters
        counters["frames"] += 1
        counters["bytes"] += len(payload)
        self.state.apply_frame(payload, ts_recv_ns // 1_000_000)

    def on_http(self, stream: str, payload: bytes, ts_recv_ns: int, meta: HttpMeta) -> None:
        """Record one HTTP body (REST polling), then apply it like a frame.

        An error answer (status not 2xx) is recorded and counted by status, never applied.
        """
        if self.recorder is not None:
            self.recorder.http(stream, payload, ts_recv_ns, meta)
        if not 200 <= meta.status < 300:
            self.http_errors[meta.status] += 1
            return
        self.counters["http_bodies"] += 1
        self.state.apply_frame(payload, ts_recv_ns // 1_000_000)

    def on_session_event(self, stream: str, kind: str, detail: dict[str, Any]) -> None:
        """Record and apply a session lifecycle event (a disconnect makes books stale)."""
        try:
            ts_ns = time.time_ns()  # one stamp for the capture and the ledger: rebuild agrees
            if self.recorder is not None:
                self.recorder.session_event(stream, kind, detail, ts_ns)
            self.state.session_event(stream, kind, detail)
            self.coverage.session_event(kind, detail, ts_ns // 1_000_000, self.state.by_poll)
            if self.event_log is not None:
                self.event_log("session", {"stream": stream, "event": kind, "detail": detail})
            if kind == "error":  # sessions back off between attempts, so this stays rare
                status = detail.get("http_status")
                if isinstance(status, int):  # a WebSocket upgrade refused with an HTTP status
                    self.http_errors[status] += 1
                log.warning(
                    "%s %s: %s error: %s",
                    self.name,
                    stream,
                    detail.get("kind", "session"),
                    detail.get("error"),
                )
        except Exception:  # the session calls us from its receive loop: never break it
            self.counters["session_event_errors"] += 1
            if self.counters["session_event_errors"] == 1:
                log.exception("%s: error handling a session event (counted)", self.name)
        log.debug("%s %s: %s %s", self.name, stream, kind, detail)

    # -- what the session's watchdogs ask (BookWatch): the books answer, nothing decodes twice

    def book_progress(self, key: str) -> tuple[int, int] | None:
        """Return (full books applied, updates applied) of a poll key's book, or None."""
        return self.state.book_progress(key)

    def market_of(self, key: str) -> str | None:
        """Return the market of a subscribed poll key."""
        return self.state.market_of(key)

    # -- tasks -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run the session, scheduling and snapshot tasks until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.session.run(self), name=f"{self.name}-session")
            tg.create_task(self._schedule_loop(), name=f"{self.name}-schedule")
            tg.create_task(self._snapshot_loop(), name=f"{self.name}-snapshots")
            if self.adapter.supports_rest_books and self.settings.audit_every_minutes > 0:
                tg.create_task(self._audit_loop(), name=f"{self.name}-audit")

    async def _schedule_loop(self) -> None:
        last_state = float("-inf")
        while True:
            now = mono_s()
            if now - last_state >= self._state_poll_s or self._retired_pending():
                last_state = now
                self._refresh_universe(now)
            await self._apply_targets(now)
            await asyncio.sleep(_SCHEDULE_EVERY_S)

    def _refresh_universe(self, now: float) -> None:
        changed = self.active.poll()
        if now - self._scores_checked >= _SCORES_EVERY_S:
            self._scores_checked = now
            scores = load_scores(self.data_dir, self.name, now_ms())
            if scores != self._scores:
                self._scores = scores
                changed = True
        retired = self.state.retired
        if changed or self._retired_pending():
            self._retired_applied = len(retired)
            insts = [i for i in self.active.instruments() if i.instrument_key not in retired]
            before = self.instruments
            self.instruments = {i.instrument_key: i for i in insts}
            self._universe_changed(before, self.instruments)
            self.scheduler.update_universe(insts, self._scores)
            if self.scheduler.hot_source != self.hot_source:
                self.hot_source = self.scheduler.hot_source
                log.info("%s: HOT set picked by %s", self.name, _describe_source(self.hot_source))
            self.counters["universe_updates"] += 1
            self._log_event(
                "universe", instruments=len(insts), retired=len(retired), hot=self.hot_source
            )

    def _universe_changed(
        self, before: dict[str, Instrument], after: dict[str, Instrument]
    ) -> None:
        """Tell the coverage ledger (and the capture, for rebuild) what entered and left."""
        added = [(i.market_id, i.instrument_id) for k, i in after.items() if k not in before]
        removed = [(i.market_id, i.instrument_id) for k, i in before.items() if k not in after]
        if not added and not removed:
            return
        ts = now_ms()
        if self.recorder is not None:
            self.recorder.universe(added, removed, ts)
        self.coverage.universe_changed(added, removed, ts)

    def _retired_pending(self) -> bool:
        # Markets closed since the universe was last rebuilt (the set only grows). Rebuilding
        # the universe costs milliseconds: once per change, not every schedule pass.
        return len(self.state.retired) != self._retired_applied

    async def _apply_targets(self, now: float) -> None:
        targets = self.scheduler.targets(now)
        tiers = dict.fromkeys(targets.hot, HOT)
        tiers.update(dict.fromkeys(targets.warm, WARM))
        subscribed = self.state.by_key
        add: list[str]
        drop: list[str]
        if not subscribed:
            # A fresh session's initial set is not churn: subscribe it whole.
            add, drop = [k for k in tiers if k in self.instruments], []
        else:
            add, drop = self.planner.plan(set(subscribed), list(tiers), now)
        drop += [k for k in subscribed if k not in self.instruments and k not in drop]
        if add:
            await self._subscribe(add, tiers)
        if drop:
            await self._unsubscribe(drop)
        if add or drop:
            self._log_event(
                "subscriptions", added=len(add), removed=len(drop), total=len(subscribed)
            )
        if add or drop or tiers != self._tiers_applied:
            self._retier(tiers)  # walks every subscribed book: only when something changed
            self._tiers_applied = tiers

    def _log_event(self, kind: str, **fields: Any) -> None:
        if self.event_log is not None:
            self.event_log(kind, fields)

    async def _subscribe(self, keys: list[str], tiers: dict[str, str]) -> None:
        insts = [self.instruments[k] for k in keys if k in self.instruments]
        self.state.add(insts)
        if self.recorder is not None:
            self.recorder.subscribed(insts)
        self.coverage.kept_changed([(i.market_id, i.instrument_id) for i in insts], ())
        now = now_ms()
        for inst in insts:
            tier = self.tier[inst.instrument_key] = tiers.get(inst.instrument_key, WARM)
            interval = self._interval(tier)
            key = inst.instrument_key
            self.snapshotter.schedule(key, interval, _first_due(key, now, interval))
        self.counters["subscribes"] += len(insts)
        await self.session.subscribe([i.poll_key for i in insts])
        if self.on_first_subscribe is not None:
            first, self.on_first_subscribe = self.on_first_subscribe, None
            first()

    async def _unsubscribe(self, keys: list[str]) -> None:
        gone = self.state.remove(keys)
        if self.recorder is not None:
            self.recorder.unsubscribed([i.instrument_key for i in gone])
        self.coverage.kept_changed((), [(i.market_id, i.instrument_id) for i in gone])
        for inst in gone:
            self.tier.pop(inst.instrument_key, None)
            self.snapshotter.remove(inst.instrument_key)
        self.counters["unsubscribes"] += len(gone)
        await self.session.unsubscribe([i.poll_key for i in gone])

    def _retier(self, tiers: dict[str, str]) -> None:
        now = now_ms()
        for key in self.state.by_key:
            tier = tiers.get(key, WARM)
            if self.tier.get(key) != tier:
                self.tier[key] = tier
                interval = self._interval(tier)
                self.snapshotter.schedule(key, interval, _first_due(key, now, interval))

    def _interval(self, tier: str) -> int:
        v = self.settings
        return v.snapshot_interval_ms_hot if tier == HOT else v.snapshot_interval_ms_warm

    async def _snapshot_loop(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            self.take_due_snapshots(now_ms())

    def take_due_snapshots(self, now: int) -> None:
        """Snapshot every book that is due and hand the rows to the writer."""
        keys = self.snapshotter.pop_due(now)
        if keys:
            if self.recorder is not None:
                self.recorder.snapshot_tick(now, keys)
            state = self.state
            batch = state.snapshots
            start = len(batch)
            state.snapshot(keys, now)
            self.coverage.rows(batch, start, now)
        self.flush_to_sink()

    def finish_coverage(self, ts_ms: int) -> None:
        """Close the ledger at the end of the run (recorded, so rebuild closes it alike)."""
        if self.recorder is not None:
            self.recorder.coverage_end(ts_ms)
        self.coverage.finish(ts_ms)

    def flush_to_sink(self) -> None:
        """Hand buffered snapshot and trade rows to the writer thread."""
        snaps, trades = self.state.take_rows()
        if len(snaps):
            self.counters["rows_submitted"] += len(snaps)
            self.sink.submit("snapshots", self.name, snaps)
        if len(trades):
            self.counters["trades_submitted"] += len(trades)
            self.sink.submit("trades", self.name, trades)

    async def _audit_loop(self) -> None:
        period_s = self.settings.audit_every_minutes * 60
        normalizer = self.adapter.new_normalizer()
        while True:
            await asyncio.sleep(period_s)
            try:
                await self.audit_once(normalizer)
            except VenueError as exc:
                self.counters["audit_errors"] += 1
                answer = error_answer(exc)
                if answer is not None:
                    self.on_http(AUDIT_STREAM, answer.body, answer.ts_recv_ns, answer.meta)
                log.warning("%s: REST audit failed: %s", self.name, exc)

    async def audit_once(self, normalizer: Normalizer) -> tuple[int, int]:
        """Compare a sample of live books with the venue's REST books; return (checked, differ)."""
        live = [k for k, b in self.state.books.items() if b.stale_reason is None and b.seq]
        sample = random.sample(live, min(self.settings.audit_sample, len(live)))
        if not sample:
            return 0, 0
        checked = differ = 0
        for body, ts_ns, meta in await self.adapter.fetch_books(sample):
            if self.recorder is not None:
                self.recorder.http(AUDIT_STREAM, body, ts_ns, meta)
            for ev in normalizer.normalize(body, ts_ns // 1_000_000):
                book = self.state.books.get(getattr(ev, "key", ""))
                if book is None or not isinstance(ev, BookSnapshot):
                    continue
                checked += 1
                differ += not _same_top(book, ev, self.state.top_k)
        self.counters["audit_checked"] += checked
        self.counters["audit_mismatches"] += differ
        rate = differ / checked if checked else 0.0
        self._log_event("audit", checked=checked, mismatched=differ, mismatch_rate=round(rate, 4))
        log.info(
            "%s: REST audit: %d/%d books differ from the live ones", self.name, differ, checked
        )
        return checked, differ

    def status(self) -> dict[str, Any]:
        """Return this venue's counters for the periodic status line and summaries."""
        hot = sum(1 for t in self.tier.values() if t == HOT)
        subs = len(self.state.by_key)
        out: dict[str, Any] = {
            "venue": self.name,
            "connected": self.session.connected,
            "universe": len(self.instruments),
            "subs": subs,
            "hot": hot,
            "warm": subs - hot,
            "hot_source": self.hot_source,
        }
        out.update(self.counters)
        out.update({f"norm_{k}": v for k, v in self.state.normalizer.stats.items()})
        out["http_errors"] = dict(sorted(self.http_errors.items()))
        return out


def _same_top(book: Book, snap: BookSnapshot, k: int) -> bool:
    bids = sorted(((p, s) for p, s in snap.bids if s), reverse=True)[:k]
    asks = sorted((p, s) for p, s in snap.asks if s)[:k]
    ours_b = book.bids.levels(book.top_k)
    ours_a = book.asks.levels(book.top_k)
    return bids == ours_b and asks == ours_a


def _describe_source(source: str | None) -> str:
    if source == "stats":
        return "score from the miner's stats cache"
    return "activity/recency (no stats cache yet)"


def _first_due(key: str, now_ms: int, interval_ms: int) -> int:
    """When a book's first snapshot is due: within one interval, at a phase fixed by its key.

    Books subscribed together would otherwise all fall due in the same tick (thousands of
    rows at once every interval, one long stall of the receive loop); spread by key, each
    tick takes its even share.
    """
    return now_ms + 1 + zlib.crc32(key.encode()) % interval_ms
