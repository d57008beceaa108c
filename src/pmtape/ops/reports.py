"""audit and latency-report: what the runlog and metrics files say about a run."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pmtape.capture.bundle import RUNLOG, RunBundle, atomic_write_json, read_ndjson
from pmtape.core.clock import iso_utc

MAX_LISTED_GAPS = 100
STOP_EVENTS = frozenset({"stop", "fatal"})


def _elapsed_ns(a: dict[str, Any], b: dict[str, Any]) -> int:
    ma, mb = a.get("mono_ns"), b.get("mono_ns")
    if isinstance(ma, int) and isinstance(mb, int) and mb >= ma:
        return mb - ma
    return int(b.get("ts_ns", 0)) - int(a.get("ts_ns", 0))


def _utc(ns: Any) -> str | None:
    return iso_utc(int(ns) // 1_000_000) if isinstance(ns, int) else None


@dataclass(slots=True)
class AuditResult:
    """Heartbeat gaps and record counts of a runlog."""

    run_dir: str
    heartbeats: int
    gap_threshold_s: float
    gaps_over_threshold: int
    max_gap_s: float
    gaps: list[dict[str, Any]]
    records_by_kind: dict[str, int]
    bad_lines: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def audit_runlog(run_dir: Path, gap_s: float = 2.0) -> AuditResult:
    """Find heartbeat gaps longer than ``gap_s`` (per ``shard`` field; none = global)."""
    RunBundle.open(run_dir)
    records, bad = read_ndjson(Path(run_dir) / RUNLOG)
    last: dict[Any, dict[str, Any]] = {}
    gaps: list[dict[str, Any]] = []
    max_gap = 0.0
    beats = [r for r in records if r.get("kind") == "heartbeat"]
    for rec in beats:
        source = rec.get("shard")
        prev = last.get(source)
        last[source] = rec
        if prev is None:
            continue
        gap = _elapsed_ns(prev, rec) / 1e9
        max_gap = max(max_gap, gap)
        if gap > gap_s:
            gaps.append(
                {
                    "shard": source,
                    "from_utc": _utc(prev.get("ts_ns")),
                    "to_utc": _utc(rec.get("ts_ns")),
                    "gap_s": round(gap, 3),
                }
            )
    kinds = Counter(str(r.get("kind")) for r in records)
    return AuditResult(
        run_dir=str(run_dir),
        heartbeats=len(beats),
        gap_threshold_s=gap_s,
        gaps_over_threshold=len(gaps),
        max_gap_s=round(max_gap, 3),
        gaps=gaps[:MAX_LISTED_GAPS],
        records_by_kind=dict(sorted(kinds.items())),
        bad_lines=bad,
    )


def quantiles(samples: list[float]) -> dict[str, Any]:
    """Return count, p50, p99 and max (nearest rank) of samples; None values if empty."""
    if not samples:
        return {"samples": 0, "p50": None, "p99": None, "max": None}
    s = sorted(samples)

    def rank(q: float) -> float:
        return s[max(0, math.ceil(q * len(s)) - 1)]

    return {"samples": len(s), "p50": rank(0.50), "p99": rank(0.99), "max": s[-1]}


def _samples(records: Iterable[dict[str, Any]], key: str) -> list[float]:
    out: list[float] = []
    for r in records:
        v = r.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool):
            out.append(float(v))
        elif isinstance(v, list):
            out.extend(
                float(x) for x in v if isinstance(x, int | float) and not isinstance(x, bool)
            )
    return out


def _max_counter(records: list[dict[str, Any]], key: str) -> int:
    vals = [r[key] for r in records if isinstance(r.get(key), int)]
    return max(vals, default=0)


def _pressure(files: dict[str, list[dict[str, Any]]], fail_s: float) -> dict[str, Any]:
    count, longest_ns, longest_file = 0, 0, None
    for name, records in files.items():
        start: dict[str, Any] | None = None
        prev: dict[str, Any] | None = None
        for rec in [*records, {}]:
            if rec.get("pressure") is True:
                if start is None:
                    start, count = rec, count + 1
                prev = rec
                continue
            if start is not None and prev is not None:
                span = _elapsed_ns(start, prev)
                if span > longest_ns:
                    longest_ns, longest_file = span, name
            start = prev = None
    longest_s = round(longest_ns / 1e9, 3)
    return {
        "count": count,
        "longest_s": longest_s,
        "longest_in": longest_file,
        "threshold_s": fail_s,
        "failed": longest_s >= fail_s,
    }


def _connections(runlog: list[dict[str, Any]]) -> tuple[dict[str, Any], int]:
    by_shard: Counter[str] = Counter()
    midrun_disconnects, stopped = 0, False
    for rec in runlog:
        kind = rec.get("kind")
        if kind == "lifecycle" and rec.get("event") in STOP_EVENTS:
            stopped = True
        elif kind == "reconnect":
            by_shard[str(rec.get("shard", "global"))] += 1
        elif kind == "disconnect" and not stopped and not rec.get("expected"):
            midrun_disconnects += 1
    return {"total": sum(by_shard.values()), "by_shard": dict(sorted(by_shard.items()))}, (
        midrun_disconnects
    )


def compute_latency(run_dir: Path, pressure_fail_s: float = 5.0) -> dict[str, Any]:
    """Compute the latency report of a run from its metrics and runlog files."""
    bundle = RunBundle.open(run_dir)
    files: dict[str, list[dict[str, Any]]] = {}
    bad = 0
    metrics_dir = bundle.path / "metrics"
    for path in sorted(metrics_dir.glob("*.ndjson")) if metrics_dir.is_dir() else []:
        files[path.name], n_bad = read_ndjson(path)
        bad += n_bad
    every = [r for recs in files.values() for r in recs]
    runlog, _ = read_ndjson(bundle.path / RUNLOG)
    reconnects, midrun = _connections(runlog)
    capture_drops = sum(_max_counter(recs, "capture_dropped_total") for recs in files.values())
    other_drops = sum(_max_counter(recs, "dropped_total") for recs in files.values())
    now = time.time_ns()
    return {
        "run_id": bundle.run_id,
        "generated_utc": iso_utc(now // 1_000_000),
        "loop_lag_ms": quantiles(_samples(every, "loop_lag_ms")),
        "rx_to_durable_ms": quantiles(_samples(every, "rx_to_durable_ms")),
        "reconnects": reconnects,
        "disconnected": {"midrun": {"incidents": midrun}},
        "drops": {
            "dropped_messages_total": capture_drops + other_drops,
            "capture_dropped_total": capture_drops,
            "other_dropped_total": other_drops,
        },
        "pressure_streaks": _pressure(files, pressure_fail_s),
        "metrics": {"files": len(files), "records": len(every), "bad_lines": bad},
    }


def render_latency_text(report: dict[str, Any]) -> str:
    """Return the human-readable latency_report.txt."""
    lag, dur = report["loop_lag_ms"], report["rx_to_durable_ms"]
    p = report["pressure_streaks"]
    lines = [
        f"latency report of run {report['run_id']} (generated {report['generated_utc']})",
        f"loop lag ms         p50 {_fmt(lag['p50'])}  p99 {_fmt(lag['p99'])}  "
        f"max {_fmt(lag['max'])}  ({lag['samples']} samples)",
        f"receive-to-durable  p50 {_fmt(dur['p50'])}  p99 {_fmt(dur['p99'])}  "
        f"max {_fmt(dur['max'])}  ({dur['samples']} samples)",
        f"reconnects mid-run  {report['reconnects']['total']}",
        f"disconnects mid-run {report['disconnected']['midrun']['incidents']}",
        f"dropped messages    {report['drops']['dropped_messages_total']}",
        f"pressure streaks    {p['count']} (longest {p['longest_s']} s, "
        f"fail at {p['threshold_s']} s{': FAILED' if p['failed'] else ''})",
    ]
    return "\n".join(lines) + "\n"


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def write_latency_report(run_dir: Path, pressure_fail_s: float = 5.0) -> dict[str, Any]:
    """Compute the latency report and write latency_report.json and .txt into the bundle."""
    report = compute_latency(run_dir, pressure_fail_s)
    atomic_write_json(Path(run_dir) / "latency_report.json", report)
    (Path(run_dir) / "latency_report.txt").write_text(render_latency_text(report))
    return report
