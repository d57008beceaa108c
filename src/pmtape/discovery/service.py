"""The scanner: run each venue's discover on its cadence and publish the result.

Per venue and cycle it writes
* ``metadata/venue=V/date=D/universe.jsonl`` — the current universe, one market a line
  (rewritten atomically each cycle, so it is always whole);
* ``markets/venue=V/date=D/markets_HH.jsonl`` — the raw payloads with their fetch stamp,
  appended (the discovery-cadence log);
* ``state/venue=V/active_instruments.snapshot.json`` — the atomic active set the collector reads.

Before publishing, a cycle reads the collector's lifecycle log (``store.lifecycle``): a market
the venue's stream announced as new in the last ``NEW_MARKET_GRACE_MS`` is kept even when the
listing does not show it yet (listings lag the stream), and a market the stream said resolved
is left out even when the listing still shows it.

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

from pmtape.core.apply import RETIRING_STATUSES
from pmtape.core.clock import mono_s, now_ms
from pmtape.core.errors import PmtapeError, VenueError, VenueRateLimited
from pmtape.core.instrument import Instrument, MarketInfo
from pmtape.net.backoff import Backoff
from pmtape.net.http import classify
from pmtape.store.active import active_snapshot_path, write_active_snapshot
from pmtape.store.atomic import atomic_write_bytes
from pmtape.store.layout import markets_log_path, universe_path
from pmtape.store.lifecycle import NEW_MARKET_GRACE_MS, LifecycleRecord, read_lifecycle
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


def with_lifecycle(
    result: DiscoveryResult, records: list[LifecycleRecord], now_ms: int
) -> DiscoveryResult:
    """Return ``result`` with the stream's word applied: resolved markets out, new ones in.

    A market announced new within ``NEW_MARKET_GRACE_MS`` whose instruments the listing
    lacks is added as the collector built it; a market announced resolved (closed, settled)
    is dropped, whatever the listing says, and never re-added from an older announcement.
    """
    if not records:
        return result
    dead_markets = {r.market_id for r in records if r.status in RETIRING_STATUSES}
    dead_keys = {k for r in records if r.status in RETIRING_STATUSES for k in r.keys}

    def alive(market_id: str, keys: list[str]) -> bool:
        return market_id not in dead_markets and dead_keys.isdisjoint(keys)

    markets = [m for m in result.markets if alive(m.market_id, m.outcome_ids)]
    insts = [i for i in result.instruments if alive(i.market_id, [i.poll_key])]
    listed = {i.instrument_key for i in result.instruments}
    added: dict[str, list[Instrument]] = {}
    for rec in records:
        if rec.ts_ms < now_ms - NEW_MARKET_GRACE_MS or not alive(rec.market_id, rec.keys):
            continue
        new = [i for i in rec.instruments if i.instrument_key not in listed]
        if new:
            listed.update(i.instrument_key for i in new)
            added.setdefault(rec.market_id, []).extend(new)
    for market_id, new in added.items():
        insts.extend(new)
        markets.append(_announced_market(market_id, new))
    return DiscoveryResult(markets=markets, instruments=insts, raw=result.raw)


def _announced_market(market_id: str, insts: list[Instrument]) -> MarketInfo:
    first = insts[0]
    return MarketInfo(
        venue=first.venue,
        market_id=market_id,
        title=first.title or "",
        outcome_ids=[i.poll_key for i in insts],
        outcomes=[i.outcome or "" for i in insts],
        close_ts=first.expiration,
        tags=list(first.tags),
        slug=first.slug,
    )


def _lifecycle_applied(
    data_dir: Path, venue: str, result: DiscoveryResult, ts_ms: int
) -> DiscoveryResult:
    try:
        records = read_lifecycle(data_dir, venue, ts_ms)
    except OSError as exc:
        log.warning("discovery of %s: lifecycle log unreadable (%s); listing only", venue, exc)
        return result
    return with_lifecycle(result, records, ts_ms)


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
    listed = await discover_with_retry(adapter, ts)
    result = await asyncio.to_thread(_lifecycle_applied, data_dir, adapter.name, listed, ts)
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
