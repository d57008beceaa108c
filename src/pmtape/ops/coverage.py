"""``pmtape coverage``: the coverage ledger summed up, with the minutes no collector ran.

The collector (and ``pmtape rebuild``) write one ledger row per venue, instrument and minute
(``store.coverage``). What they cannot write is the time they were not running: those minutes
come from the run bundles' start and stop records (a run that crashed ends at its last run-log
record), and from the ledger's own runs where a collector ran without capture. Every minute of
the report's span in which no run of a venue was up is ``missing``/``collector_down`` for each
instrument that venue's ledger names in the span.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pmtape.capture.bundle import RUNLOG, read_manifest, read_ndjson
from pmtape.core.clock import iso_utc
from pmtape.store.coverage import read_coverage
from pmtape.store.layout import captures_dir

COLLECTOR_DOWN = "collector_down"
MISSING = "missing"
_DEFAULT_INTERVAL_MS = 60_000


@dataclass(frozen=True, slots=True)
class RunSpan:
    """When one collector run was up, and for which venues."""

    run_id: str
    start_ms: int
    stop_ms: int
    venues: frozenset[str]
    ended: str
    """How it ended: normal, fatal, or crashed (no stop record)."""


@dataclass
class VenueCoverage:
    """One venue's instrument-minutes by status and by reason over the report's span."""

    venue: str
    interval_s: float
    start_ms: int
    end_ms: int
    instruments: int
    by_status: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def ok_share(self) -> float:
        total = sum(self.by_status.values())
        return self.by_status.get("ok", 0) / total if total else 0.0


@dataclass(frozen=True, slots=True)
class Gap:
    """Consecutive intervals of one venue in one state other than ok."""

    venue: str
    status: str
    reason: str
    start_ms: int
    end_ms: int
    instruments: int
    """The most instruments in that state in any one interval of the gap."""


@dataclass
class CoverageReport:
    """What ``pmtape coverage`` prints."""

    since_ms: int
    until_ms: int
    venues: list[VenueCoverage]
    gaps: list[Gap]
    runs: list[RunSpan]

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready data (times as ISO UTC too)."""
        return {
            "since": iso_utc(self.since_ms),
            "until": iso_utc(self.until_ms),
            "venues": [
                {
                    "venue": v.venue,
                    "interval_s": v.interval_s,
                    "start": iso_utc(v.start_ms),
                    "end": iso_utc(v.end_ms),
                    "instruments": v.instruments,
                    "instrument_intervals": v.by_status,
                    "reasons": v.by_reason,
                    "ok_share": round(v.ok_share, 6),
                }
                for v in self.venues
            ],
            "gaps": [
                {
                    "venue": g.venue,
                    "status": g.status,
                    "reason": g.reason,
                    "start": iso_utc(g.start_ms),
                    "end": iso_utc(g.end_ms),
                    "instruments": g.instruments,
                }
                for g in self.gaps
            ],
            "runs": [
                {
                    "run_id": r.run_id,
                    "start": iso_utc(r.start_ms),
                    "stop": iso_utc(r.stop_ms),
                    "venues": sorted(r.venues),
                    "ended": r.ended,
                }
                for r in self.runs
            ],
        }


def read_runs(data_dir: Path) -> list[RunSpan]:
    """Return every run bundle's span (start to stop, or to its last record after a crash)."""
    root = captures_dir(data_dir)
    runs = []
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        span = _run_span(path)
        if span is not None:
            runs.append(span)
    return runs


def _run_span(path: Path) -> RunSpan | None:
    try:
        manifest = read_manifest(path)
        records, _ = read_ndjson(path / RUNLOG)
    except Exception:  # not a bundle, or an unreadable one: it says nothing of uptime
        return None
    stamps = [r["ts_ns"] for r in records if isinstance(r.get("ts_ns"), int)]
    if not stamps:
        return None
    start = stop = None
    ended = "crashed"
    for rec in records:
        if rec.get("kind") != "lifecycle":
            continue
        if rec.get("event") == "start" and start is None:
            start = rec.get("ts_ns")
        elif rec.get("event") == "stop":
            stop, ended = rec.get("ts_ns"), str(rec.get("reason") or "normal")
    start_ns = start if isinstance(start, int) else min(stamps)
    stop_ns = stop if isinstance(stop, int) else max(stamps)
    venues = (manifest.get("meta") or {}).get("venues") or {}
    return RunSpan(
        run_id=path.name,
        start_ms=start_ns // 1_000_000,
        stop_ms=stop_ns // 1_000_000,
        venues=frozenset(venues),
        ended=ended,
    )


def coverage_report(
    data_dir: Path, since_ms: int, until_ms: int, venue: str | None = None
) -> CoverageReport:
    """Sum up the ledger of ``[since_ms, until_ms)``, adding the minutes no collector ran."""
    ledger = read_coverage(data_dir, venue, since_ms, until_ms)
    runs = [r for r in read_runs(data_dir) if r.stop_ms > since_ms and r.start_ms < until_ms]
    venues_out: list[VenueCoverage] = []
    gaps: list[Gap] = []
    names = sorted(set(ledger.column("venue").to_pylist()))
    for name in names:
        rows = ledger.filter(pc.equal(ledger.column("venue"), name))
        cov, counts = _venue(rows, name, runs, since_ms, until_ms)
        venues_out.append(cov)
        gaps.extend(_gaps(name, counts, cov.interval_s))
    return CoverageReport(since_ms, until_ms, venues_out, gaps, runs)


def _venue(
    rows: pa.Table, venue: str, runs: list[RunSpan], since_ms: int, until_ms: int
) -> tuple[VenueCoverage, dict[tuple[str, str], dict[int, int]]]:
    """Return a venue's totals and its instrument counts per (status, reason) and interval."""
    intervals = [v for v in rows.column("interval_s").to_pylist() if v]
    interval_ms = round(min(intervals) * 1000) if intervals else _DEFAULT_INTERVAL_MS
    ts = rows.column("ts").to_pylist()
    status = rows.column("status").to_pylist()
    reason = rows.column("reason").to_pylist()
    run_ids = rows.column("run_id").to_pylist()
    instruments = len(set(zip(rows.column("market_id").to_pylist(),
                              rows.column("outcome_id").to_pylist(), strict=True)))  # fmt: skip
    counts: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    up: list[tuple[int, int]] = [
        (r.start_ms, r.stop_ms) for r in runs if venue in r.venues or not r.venues
    ]
    by_run: dict[str, list[int]] = {}
    for t, s, why, run in zip(ts, status, reason, run_ids, strict=True):
        counts[(s, why or "")][t] += 1
        if run is not None:
            span = by_run.setdefault(run, [t, t])
            span[0], span[1] = min(span[0], t), max(span[1], t)
    # A run without a bundle (capture off) was up over the intervals its ledger rows cover.
    bundled = {r.run_id for r in runs}
    up += [(lo, hi + interval_ms) for run, (lo, hi) in by_run.items() if run not in bundled]
    start = max(since_ms, min((lo for lo, _ in up), default=min(ts)))
    start -= start % interval_ms
    end = min(until_ms, max(max(ts) + interval_ms, max((hi for _, hi in up), default=0)))
    down = list(_down_intervals(start, end, interval_ms, up))
    for t in down:
        counts[(MISSING, COLLECTOR_DOWN)][t] += instruments
    cov = VenueCoverage(venue, interval_ms / 1000, start, end, instruments)
    for (s, why), per in counts.items():
        n = sum(per.values())
        cov.by_status[s] = cov.by_status.get(s, 0) + n
        if why:
            cov.by_reason[why] = cov.by_reason.get(why, 0) + n
    return cov, counts


def _down_intervals(
    start: int, end: int, interval_ms: int, up: Iterable[tuple[int, int]]
) -> Iterable[int]:
    """Yield the intervals of ``[start, end)`` that no up-span touches."""
    spans = sorted(up)
    t = start
    while t < end:
        hi = t + interval_ms
        if not any(lo < hi and stop > t for lo, stop in spans):
            yield t
        t = hi


def _gaps(
    venue: str, counts: dict[tuple[str, str], dict[int, int]], interval_s: float
) -> list[Gap]:
    """Merge consecutive intervals of each non-ok (status, reason) into gaps."""
    step = round(interval_s * 1000)
    gaps = []
    for (status, reason), per in counts.items():
        if status == "ok":
            continue
        run: list[int] = []
        for t in sorted(per):
            if run and t != run[-1] + step:
                gaps.append(_gap(venue, status, reason, run, per, step))
                run = []
            run.append(t)
        if run:
            gaps.append(_gap(venue, status, reason, run, per, step))
    return sorted(gaps, key=lambda g: (g.venue, g.start_ms, g.status, g.reason))


def _gap(
    venue: str, status: str, reason: str, run: list[int], per: dict[int, int], step: int
) -> Gap:
    return Gap(venue, status, reason, run[0], run[-1] + step, max(per[t] for t in run))
