"""The scanner: run each venue's discover on its cadence and publish the result.

Per venue and cycle it writes
* ``metadata/venue=V/date=D/universe.jsonl`` — the current universe, one market a line
  (rewritten atomically each cycle, so it is always whole);
* ``markets/venue=V/date=D/markets_HH.jsonl`` — the raw payloads with their fetch stamp,
  appended (the discovery-cadence log);
* ``state/venue=V/active_instruments.snapshot.json`` — the atomic active set the collector reads.

Venue-wide trouble (a 429, a 5xx, a timeout) is retried within the cycle, a few times, after
the venue's own wait: its ``Retry-After`` (the venue cooldown, which every client of the venue
honours, already holds it) or else a jittered backoff, never longer than
``RETRY_MAX_WAIT_S`` a time. A venue whose discover still fails is logged and retried next
cycle; the others carry on, and the last good snapshot stays in place for the collector.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from pathlib import Path

import msgspec

from pmtape.core.clock import mono_s, now_ms
from pmtape.core.errors import PmtapeError, VenueError, VenueRateLimited
from pmtape.net.backoff import Backoff
from pmtape.net.http import classify
from pmtape.store.active import active_snapshot_path, write_active_snapshot
from pmtape.store.atomic import atomic_write_bytes
from pmtape.store.layout import markets_log_path, universe_path
from pmtape.venues.base import DiscoveryResult, VenueAdapter

log = logging.getLogger(__name__)
_encoder = msgspec.json.Encoder()

RETRY_ATTEMPTS = 4
"""Tries of one venue's discover within a cycle when the venue answers 429/5xx or times out."""
RETRY_MAX_WAIT_S = 60.0
"""The longest wait before a retry; a venue asking for more fails the cycle instead."""


class DiscoverySummary(msgspec.Struct):
    """What one discovery cycle of one venue found and wrote."""

    venue: str
    markets: int
    instruments: int
    elapsed_s: float
    snapshot_path: str
    universe_path: str
    error: str | None = None


def publish(data_dir: Path, venue: str, result: DiscoveryResult, ts_ms: int) -> tuple[Path, Path]:
    """Write universe, markets log and the atomic active snapshot; return (snapshot, universe)."""
    uni = universe_path(data_dir, venue, ts_ms)
    atomic_write_bytes(uni, b"".join(_encoder.encode(m) + b"\n" for m in result.markets))
    mlog = markets_log_path(data_dir, venue, ts_ms)
    mlog.parent.mkdir(parents=True, exist_ok=True)
    with mlog.open("ab") as fh:
        for raw in result.raw:
            fh.write(_encoder.encode({"fetched_at_ms": ts_ms, "venue": venue, "payload": raw}))
            fh.write(b"\n")
    snap = active_snapshot_path(data_dir, venue)
    write_active_snapshot(snap, venue, result.instruments, ts_ms)
    return snap, uni


async def discover_with_retry(
    adapter: VenueAdapter, ts_ms: int, *, attempts: int = RETRY_ATTEMPTS
) -> DiscoveryResult:
    """Return ``adapter.discover(ts_ms)``, retrying venue-wide trouble after the venue's wait."""
    backoff = Backoff(0.5, RETRY_MAX_WAIT_S, reset_after_s=0.0)
    for attempt in range(1, attempts):
        try:
            return await adapter.discover(ts_ms)
        except VenueError as exc:
            wait = _retry_wait(exc, backoff)
            if wait is None:
                raise
            log.warning(
                "discovery of %s: %s; retrying in %.1fs (attempt %d of %d)",
                adapter.name,
                exc,
                wait,
                attempt + 1,
                attempts,
            )
            await asyncio.sleep(wait)
    return await adapter.discover(ts_ms)


def _retry_wait(exc: VenueError, backoff: Backoff) -> float | None:
    """Return how long to wait before retrying after ``exc``, or None: do not retry."""
    if classify(exc) != "retry":
        return None
    if isinstance(exc, VenueRateLimited) and exc.retry_after_s is not None:
        wait = exc.retry_after_s  # Retry-After, or the venue's own cooldown backoff
        backoff.next_delay()  # a 5xx after this one still waits longer than the first
    else:
        wait = backoff.next_delay()
    return wait if wait <= RETRY_MAX_WAIT_S else None


async def discover_venue(data_dir: Path, adapter: VenueAdapter) -> DiscoverySummary:
    """Run one discovery cycle for one venue and publish it (file writes off the loop)."""
    started = time.perf_counter()
    ts = now_ms()
    result = await discover_with_retry(adapter, ts)
    snap, uni = await asyncio.to_thread(publish, data_dir, adapter.name, result, ts)
    return DiscoverySummary(
        venue=adapter.name,
        markets=len(result.markets),
        instruments=len(result.instruments),
        elapsed_s=time.perf_counter() - started,
        snapshot_path=str(snap),
        universe_path=str(uni),
    )


async def discover_once(
    data_dir: Path, adapters: Mapping[str, VenueAdapter]
) -> list[DiscoverySummary]:
    """Run one cycle for every venue concurrently; a failing venue is reported, not raised."""
    names = list(adapters)
    results = await asyncio.gather(
        *(discover_venue(data_dir, adapters[n]) for n in names), return_exceptions=True
    )
    out: list[DiscoverySummary] = []
    for name, res in zip(names, results, strict=True):
        if isinstance(res, DiscoverySummary):
            out.append(res)
        elif isinstance(res, PmtapeError | OSError):
            log.error("discovery of %s failed: %s", name, res)
            out.append(_failed(name, str(res)))
        elif isinstance(res, BaseException):
            raise res
    return out


def _failed(venue: str, error: str) -> DiscoverySummary:
    return DiscoverySummary(venue, 0, 0, 0.0, "", "", error=error)


async def discover_loop(
    data_dir: Path,
    adapters: Mapping[str, VenueAdapter],
    intervals_s: Mapping[str, float],
    stop: asyncio.Event,
) -> None:
    """Run every venue on its own cadence until ``stop`` is set."""
    await asyncio.gather(
        *(_venue_loop(data_dir, a, intervals_s[n], stop) for n, a in adapters.items())
    )


async def _venue_loop(
    data_dir: Path, adapter: VenueAdapter, interval_s: float, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        started = mono_s()
        try:
            summary = await discover_venue(data_dir, adapter)
            log.info(
                "discovered %s: %d markets, %d instruments in %.2fs",
                summary.venue,
                summary.markets,
                summary.instruments,
                summary.elapsed_s,
            )
        except (PmtapeError, OSError) as exc:
            log.error("discovery of %s failed: %s (keeping the last snapshot)", adapter.name, exc)
        wait = max(0.0, interval_s - (mono_s() - started))
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait)
        except TimeoutError:
            pass
