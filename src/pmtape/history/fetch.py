"""Fetch workers: walk one key's cursor feed page by page, keep every body, hand rows over.

A worker takes keys (markets) from a shared queue and walks each feed from its committed
cursor. Every answer, good or bad, is appended raw to the run's capture before anything
reads it. Then it is one of four outcomes, never confused:

- a page (rows, maybe none: an empty answer) -> handed to the persister with the cursor
  that follows it;
- an error (429, 5xx, timeout) -> counted, retried after the venue's ``Retry-After`` or a
  jittered backoff (the HTTP client's cooldown);
- a refusal (another 4xx) -> counted; the key stops for this run;
- a malformed body (not JSON, truncated, wrong-typed) -> counted and retried; the cursor
  never moves past it.

A key that keeps failing past ``max_attempts`` in a row is given up for this run (the ledger
says ``failed``/``partial``); its cursor stays where its last stored page left it.

Feeds run newest first. A page that repeats the previous page's edge (the venue's seek
anchor is a time, and fills share seconds) is cut to what is older than the stored edge,
using the natural keys stored at the edge second.
"""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pmtape.capture.bundle import ShardedCapture
from pmtape.capture.format import FrameKind
from pmtape.core.errors import VenueError, VenueProtocolError
from pmtape.core.http import HttpMeta
from pmtape.history.limits import LatencyGovernor
from pmtape.history.persist import PageItem, Persister
from pmtape.history.state import KeyCursor, Outcomes
from pmtape.net.http import HttpClient, classify, error_answer

BodySink = Callable[[bytes, int, HttpMeta], None]
"""Receives an HTTP body as received: (body, ts_recv_ns, how it was fetched)."""


class FeedPage(Protocol):
    """A parsed page of a cursor feed."""

    @property
    def rows(self) -> list[Any]: ...

    @property
    def next_cursor(self) -> str | None: ...


class FeedHook(Protocol):
    """What a venue's history module tells a worker about one feed (e.g. trades)."""

    def request(self, key: str, cursor: str | None) -> tuple[str, dict[str, Any]]: ...

    def parse(self, key: str, cursor: str | None, body: bytes) -> FeedPage:
        """Parse the answer to ``request(key, cursor)``."""
        ...

    def row_key(self, row: Any) -> str: ...

    def row_ts(self, row: Any) -> int: ...


@dataclass
class Progress:
    """Live counters of a run, read by the CLI's progress display."""

    keys_total: int = 0
    keys_done: int = 0
    requests: int = 0
    pages: int = 0
    rows: int = 0
    errors: int = 0
    refusals: int = 0
    malformed: int = 0
    empty: int = 0
    started_s: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class FeedRun:
    """What every worker of one feed shares."""

    table: str
    hook: FeedHook
    http: HttpClient
    buckets: tuple[str, ...]
    keep: BodySink
    """Where every body goes first (``keeper``: the run's capture)."""
    persister: Persister
    stop: asyncio.Event
    progress: Progress
    governor: LatencyGovernor
    max_attempts: int = 8
    since_s: int | None = None


async def worker(run: FeedRun, keys: asyncio.Queue[tuple[str, KeyCursor]]) -> None:
    """Walk keys from ``keys`` until it is empty or the run stops."""
    while not run.stop.is_set():
        try:
            key, cursor = keys.get_nowait()
        except asyncio.QueueEmpty:
            return
        await walk(run, key, cursor)
        run.progress.keys_done += 1


async def walk(run: FeedRun, key: str, cursor: KeyCursor) -> None:
    """Walk one key's feed from ``cursor`` until its end, a give-up or the run's stop."""
    failures = 0
    while not cursor.done and not run.stop.is_set():
        pause = run.governor.pause_s()
        if pause > 0:
            await asyncio.sleep(pause)
        outcome = Outcomes(requests=1)
        body = await _request(run, key, cursor, outcome)
        page = None if body is None else _parse(run, key, cursor.cursor, body, outcome)
        if page is None:
            failures += 1
            gave_up = bool(outcome.refusals) or failures >= run.max_attempts
            await _hand_over(run, PageItem(run.table, key, [], cursor, outcome, gave_up))
            if gave_up:
                return
            continue
        failures = 0
        cursor, rows = advance(run, cursor, page, outcome)
        await _hand_over(run, PageItem(run.table, key, rows, cursor, outcome))


async def _request(run: FeedRun, key: str, cursor: KeyCursor, outcome: Outcomes) -> bytes | None:
    url, params = run.hook.request(key, cursor.cursor)
    run.progress.requests += 1
    try:
        body, ts_ns, meta = await run.http.get(url, params, buckets=run.buckets)
    except VenueError as exc:
        answer = error_answer(exc)
        if answer is not None:
            run.keep(answer.body, answer.ts_recv_ns, answer.meta)
        if classify(exc) == "retry":
            outcome.errors += 1
            run.progress.errors += 1
        else:
            outcome.refusals += 1
            run.progress.refusals += 1
        return None
    run.governor.observe(meta.latency_ns / 1e9)
    run.keep(body, ts_ns, meta)
    return body


def _parse(
    run: FeedRun, key: str, cursor: str | None, body: bytes, outcome: Outcomes
) -> FeedPage | None:
    try:
        return run.hook.parse(key, cursor, body)
    except VenueProtocolError:
        outcome.malformed += 1
        run.progress.malformed += 1
        return None


def advance(
    run: FeedRun, cursor: KeyCursor, page: FeedPage, outcome: Outcomes
) -> tuple[KeyCursor, list[Any]]:
    """Return the cursor after ``page`` and its rows not stored yet (edge repeats dropped)."""
    hook = run.hook
    row_ts, row_key = hook.row_ts, hook.row_key
    edge_ts, edge_keys = cursor.edge_ts, set(cursor.edge_keys)
    since = run.since_s
    rows: list[Any] = []
    floor_hit = False
    for row in page.rows:
        ts = row_ts(row)
        if since is not None and ts < since:
            floor_hit = True
            break
        if edge_ts is not None and ts >= edge_ts and (ts > edge_ts or row_key(row) in edge_keys):
            outcome.repeats += 1
            continue
        rows.append(row)
    if rows:
        new_edge = row_ts(rows[-1])
        at_edge = set()
        for row in reversed(rows):
            if row_ts(row) != new_edge:
                break
            at_edge.add(row_key(row))
        edge_keys = edge_keys | at_edge if new_edge == edge_ts else at_edge
        edge_ts = new_edge
    outcome.pages = 1
    outcome.empty = int(not page.rows)
    progress = run.progress
    progress.pages += 1
    progress.rows += len(rows)
    progress.empty += outcome.empty
    # At the --since floor keep this page's cursor: a run with an older --since re-reads it.
    nxt = cursor.cursor if floor_hit else page.next_cursor
    done = floor_hit or page.next_cursor is None
    return KeyCursor(
        cursor=nxt,
        done=done,
        floor_s=since if floor_hit else None,
        edge_ts=edge_ts,
        edge_keys=sorted(edge_keys),
    ), rows


def keeper(capture: ShardedCapture, stream: str) -> BodySink:
    """Return a sink appending HTTP bodies (with how they were fetched) to the capture."""

    def keep(body: bytes, ts_ns: int, meta: HttpMeta) -> None:
        capture.append(0, FrameKind.HTTP_RESPONSE, stream, body, ts_ns, time.monotonic_ns(), meta)

    return keep


async def _hand_over(run: FeedRun, item: PageItem) -> None:
    try:
        run.persister.put_nowait(item)
    except queue.Full:
        await asyncio.to_thread(run.persister.put, item)
