"""One backfill run: list the keys, walk their feeds with workers, persist, report.

``backfill_trades`` (keys: markets) and ``backfill_prices`` (keys: tokens, walked in 14-day
windows from now back to the market's start, its oldest stored trade or ``--since``) share
everything below. A run opens the committed state (``history/cursor.json``; parts a dead run
wrote but never committed are removed), opens a capture run bundle of kind ``history`` for
every body it receives, lists the venue's markets, and runs ``workers`` fetch tasks over
the markets whose trade feed is not at its end. Requests go through token buckets at
``rate_share`` of the venue's documented limits. ``timeout_s`` or ``stop`` ends the run
gracefully: the workers stop asking, everything handed over is stored and committed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from pmtape.capture.bundle import RunBundle
from pmtape.core.errors import VenueError
from pmtape.history.bronze import PRICES, TRADES
from pmtape.history.fetch import BodySink, FeedHook, FeedRun, Progress, keeper, worker
from pmtape.history.ledger import table_summary, write_ledger
from pmtape.history.limits import DEFAULT_SHARE, LatencyGovernor, scaled_limiter
from pmtape.history.persist import Persister
from pmtape.history.state import CursorStore, KeyCursor, read_state
from pmtape.net.http import HttpClient, classify

HISTORY_DIR = "history"
STREAM = "history"
LIST_ATTEMPTS = 8
DEFAULT_LOOKBACK_S = 365 * 86_400
"""How far back a token is walked with neither a market start nor a stored trade."""
_T = TypeVar("_T")


class VenueHistory(Protocol):
    """A venue's history hooks (``venues/<venue>/history.py``)."""

    venue: str
    limits: dict[str, int]
    window_s: float
    trades_buckets: tuple[str, ...]
    trades_source: str
    page_size: int

    async def list_markets(
        self, http: HttpClient, limit: int | None, keep: BodySink
    ) -> list[str]: ...

    def trades_feed(self) -> FeedHook: ...

    prices_buckets: tuple[str, ...]
    prices_source: str

    async def list_tokens(
        self, http: HttpClient, limit: int | None, keep: BodySink
    ) -> dict[str, int | None]: ...

    def prices_feed(
        self,
        starts: Mapping[str, int],
        traded: Mapping[str, tuple[int, int] | None],
        since_s: int | None = None,
    ) -> FeedHook: ...


@dataclass(frozen=True)
class BackfillSettings:
    """What one run is asked to do (built by the CLI from flags)."""

    data_dir: Path
    fresh: bool = False
    limit: int | None = None
    """Markets to walk at most (the first N listed)."""
    timeout_s: float | None = None
    since_s: int | None = None
    """Stop each feed at rows older than this (epoch seconds)."""
    workers: int = 2
    rate_share: float = DEFAULT_SHARE
    lift_limits: bool = False
    """No token buckets at all (benchmarks against a local fake)."""
    flush_rows: int = 10_000
    flush_interval_s: float = 2.0
    max_attempts: int = 8
    http_timeout_s: float = 30.0
    run_id: str | None = None


@dataclass
class BackfillResult:
    """How a run ended and what the history now holds."""

    run_id: str
    run_dir: Path
    stop_reason: str
    keys: int
    rows_stored: int
    elapsed_s: float
    removed_parts: list[str]
    summary: dict[str, int] = field(default_factory=dict)


def history_dir(data_dir: Path) -> Path:
    """Return ``data_dir/history``."""
    return Path(data_dir) / HISTORY_DIR


async def backfill_trades(
    hooks: VenueHistory,
    settings: BackfillSettings,
    *,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
) -> BackfillResult:
    """Backfill every listed market's trades into bronze (see the module docstring)."""
    return await _backfill(hooks, settings, TRADES, progress, stop)


async def backfill_prices(
    hooks: VenueHistory,
    settings: BackfillSettings,
    *,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
) -> BackfillResult:
    """Backfill every listed token's price history into bronze (see the module docstring)."""
    return await _backfill(hooks, settings, PRICES, progress, stop)


async def _backfill(
    hooks: VenueHistory,
    settings: BackfillSettings,
    table: str,
    progress: Progress | None,
    stop: asyncio.Event | None,
) -> BackfillResult:
    started = time.monotonic()
    store = CursorStore.open(history_dir(settings.data_dir))
    try:
        return await _run(
            hooks, settings, table, store, progress or Progress(), stop or asyncio.Event(), started
        )
    finally:
        store.close()


async def _keys_and_hook(
    hooks: VenueHistory,
    settings: BackfillSettings,
    table: str,
    store: CursorStore,
    http: HttpClient,
    keep: BodySink,
) -> tuple[list[str], FeedHook, tuple[str, ...]]:
    if table == TRADES:
        markets = await _listed(lambda: hooks.list_markets(http, settings.limit, keep))
        return markets, hooks.trades_feed(), hooks.trades_buckets
    tokens = await _listed(lambda: hooks.list_tokens(http, settings.limit, keep))
    traded = traded_spans(store)
    fallback = int(time.time()) - DEFAULT_LOOKBACK_S
    starts = {}
    for key, start in tokens.items():
        span = traded.get(key.split("/")[0])
        known = [s for s in (start, span[0] if span else None) if s is not None]
        starts[key] = min(known, default=fallback)
    feed = hooks.prices_feed(starts, traded, settings.since_s)
    return list(tokens), feed, hooks.prices_buckets


def traded_spans(store: CursorStore) -> dict[str, tuple[int, int] | None]:
    """Return per market whose trades were walked to the end: its trades' time span (None: none)."""
    cursors = store.cursors(TRADES)
    out: dict[str, tuple[int, int] | None] = {}
    for key, entry in store.ledger(TRADES).items():
        cursor = cursors.get(key)
        firsts = [c.first_ts for c in entry.dts.values() if c.first_ts is not None]
        lasts = [c.last_ts for c in entry.dts.values() if c.last_ts is not None]
        if firsts and lasts:
            out[key] = (min(firsts), max(lasts))
        elif cursor is not None and cursor.done and cursor.floor_s is None:
            out[key] = None
    return out


async def _run(
    hooks: VenueHistory,
    settings: BackfillSettings,
    table: str,
    store: CursorStore,
    progress: Progress,
    stop: asyncio.Event,
    started: float,
) -> BackfillResult:
    if settings.fresh:
        store.reset_table(table)
    store.state.sources[table] = hooks.trades_source if table == TRADES else hooks.prices_source
    run_id = settings.run_id or _run_id(hooks.venue)
    bundle = RunBundle.create(
        settings.data_dir, run_id, {"kind": "history", "venue": hooks.venue, "tables": [table]}
    )
    capture = bundle.open_capture([0])
    limiter = None
    if not settings.lift_limits:
        limiter = scaled_limiter(hooks.limits, hooks.window_s, settings.rate_share)
    http = HttpClient(hooks.venue, timeout_s=settings.http_timeout_s, limiter=limiter)
    persister = Persister(
        store,
        flush_rows=settings.flush_rows,
        flush_interval_s=settings.flush_interval_s,
        before_commit=capture.flush,
    ).start()
    reason = "error"
    keys: list[str] = []
    timer = None
    try:
        if settings.timeout_s is not None:
            timer = asyncio.get_running_loop().call_later(settings.timeout_s, stop.set)
        keep = keeper(capture, f"{hooks.venue}-{STREAM}")
        keys, hook, buckets = await _keys_and_hook(hooks, settings, table, store, http, keep)
        todo = _pending(store, table, keys, settings.since_s)
        progress.keys_total = len(keys)
        progress.keys_done = len(keys) - todo.qsize()
        run = FeedRun(
            table=table,
            hook=hook,
            http=http,
            buckets=buckets,
            keep=keep,
            persister=persister,
            stop=stop,
            progress=progress,
            governor=LatencyGovernor(),
            max_attempts=settings.max_attempts,
            since_s=settings.since_s,
        )
        await _run_workers(run, todo, max(1, settings.workers))
        reason = "stopped" if stop.is_set() else "complete"
    finally:
        if timer is not None:
            timer.cancel()
        await http.aclose()
        try:
            await asyncio.to_thread(persister.close)
        finally:
            bundle.finish(reason)
    write_ledger(store.root, store.state)
    return BackfillResult(
        run_id=run_id,
        run_dir=bundle.path,
        stop_reason=reason,
        keys=len(keys),
        rows_stored=persister.rows_stored,
        elapsed_s=time.monotonic() - started,
        removed_parts=store.removed_parts,
        summary=table_summary(store.state, table),
    )


async def _run_workers(
    run: FeedRun, todo: asyncio.Queue[tuple[str, KeyCursor]], count: int
) -> None:
    # One worker failing (the persister died) stops the others before the client closes.
    tasks = [asyncio.create_task(worker(run, todo)) for _ in range(count)]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        if not task.cancelled() and (exc := task.exception()) is not None:
            raise exc


async def _listed(listing: Callable[[], Awaitable[_T]]) -> _T:
    for attempt in range(1, LIST_ATTEMPTS + 1):
        try:
            return await listing()
        except VenueError as exc:
            if classify(exc) != "retry" or attempt == LIST_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _pending(
    store: CursorStore, table: str, keys: list[str], since_s: int | None
) -> asyncio.Queue[tuple[str, KeyCursor]]:
    cursors = store.cursors(table)
    todo: asyncio.Queue[tuple[str, KeyCursor]] = asyncio.Queue()
    for key in keys:
        cursor = cursors.get(key, KeyCursor())
        if (
            cursor.done
            and cursor.floor_s is not None
            and (since_s is None or since_s < cursor.floor_s)
        ):
            cursor = KeyCursor(  # an older --since than last time: read on past the old floor
                cursor=cursor.cursor, edge_ts=cursor.edge_ts, edge_keys=cursor.edge_keys
            )
        if not cursor.done:
            todo.put_nowait((key, cursor))
    return todo


def _run_id(venue: str) -> str:
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"history-{venue}-{stamp}"


def summary_of(data_dir: Path) -> dict[str, dict[str, int]]:
    """Return the committed state's totals per table (read only; what ``history status`` shows)."""
    state = read_state(history_dir(data_dir))
    return {table: table_summary(state, table) for table in sorted(state.ledger)}
