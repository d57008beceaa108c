"""gate: the data-quality gates of a capture run, as PASS or FAIL with reasons."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pmtape.capture.verify import verify_bundle
from pmtape.ops.reports import audit_runlog, compute_latency


@dataclass(frozen=True, slots=True)
class GateThresholds:
    """The limits a run must stay within to pass."""

    heartbeat_gap_s: float = 2.0
    loop_lag_p99_ms: float = 10.0
    loop_lag_max_ms: float = 100.0
    pressure_s: float = 5.0


@dataclass(slots=True)
class GateResult:
    """PASS or FAIL, every reason, and the figures behind them."""

    run_dir: str
    passed: bool
    reasons: list[str]
    checks: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        out = asdict(self)
        out["verdict"] = "PASS" if self.passed else "FAIL"
        return out


def run_gate(run_dir: Path, limits: GateThresholds | None = None) -> GateResult:
    """Apply every quality gate to a bundle."""
    lim = limits or GateThresholds()
    verify = verify_bundle(run_dir)
    audit = audit_runlog(run_dir, lim.heartbeat_gap_s)
    lat = compute_latency(run_dir, lim.pressure_s)
    reasons: list[str] = []
    if audit.heartbeats == 0:
        reasons.append("no heartbeat records in runlog.ndjson")
    elif audit.gaps_over_threshold:
        reasons.append(
            f"{audit.gaps_over_threshold} heartbeat gaps over {lim.heartbeat_gap_s:g} s "
            f"(longest {audit.max_gap_s:g} s)"
        )
    reasons += _connection_reasons(lat)
    drops = lat["drops"]["dropped_messages_total"]
    if drops:
        reasons.append(f"{drops} messages dropped")
    reasons += _lag_reasons(lat["loop_lag_ms"], lim)
    streak = lat["pressure_streaks"]
    if streak["failed"]:
        reasons.append(
            f"sustained pressure for {streak['longest_s']:g} s in {streak['longest_in']}"
        )
    reasons += _verify_reasons(verify.totals, verify.first_error)
    fatal = _fatal_reason(Path(run_dir))
    if fatal is not None:
        reasons.append(fatal)
    checks = {
        "verify": verify.totals,
        "audit": {"heartbeats": audit.heartbeats, "gaps_over_threshold": audit.gaps_over_threshold},
        "latency": {k: lat[k] for k in ("loop_lag_ms", "reconnects", "disconnected", "drops")},
        "pressure_streaks": streak,
        "fatal": fatal is not None,
    }
    return GateResult(str(run_dir), not reasons, reasons, checks)


def _connection_reasons(lat: dict[str, Any]) -> list[str]:
    out = []
    if lat["reconnects"]["total"]:
        out.append(f"{lat['reconnects']['total']} reconnects mid-run")
    if lat["disconnected"]["midrun"]["incidents"]:
        out.append(f"{lat['disconnected']['midrun']['incidents']} disconnects mid-run")
    return out


def _lag_reasons(lag: dict[str, Any], lim: GateThresholds) -> list[str]:
    if not lag["samples"]:
        return ["no loop_lag_ms samples in metrics/*.ndjson"]
    out = []
    if lag["p99"] > lim.loop_lag_p99_ms:
        out.append(f"loop lag p99 {lag['p99']:.1f} ms > {lim.loop_lag_p99_ms:g} ms")
    if lag["max"] > lim.loop_lag_max_ms:
        out.append(f"loop lag max {lag['max']:.1f} ms > {lim.loop_lag_max_ms:g} ms")
    return out


def _verify_reasons(totals: dict[str, int], first_error: str | None) -> list[str]:
    if totals["crc_mismatch"]:
        return [f"{totals['crc_mismatch']} checksum mismatches (first: {first_error})"]
    if not totals["errors"]:
        return []
    lost = ""
    if totals["missing_frames"] or totals["missing_blocks"]:
        lost = f" ({totals['missing_frames']} frames in {totals['missing_blocks']} blocks missing)"
    more = f" (and {totals['errors'] - 1} more)" if totals["errors"] > 1 else ""
    return [f"capture does not verify{lost}: {first_error}{more}"]


def _fatal_reason(run_dir: Path) -> str | None:
    path = run_dir / "fatal.json"
    if not path.exists():
        return None
    try:
        reason = json.loads(path.read_bytes()).get("reason", "unknown")
    except (ValueError, AttributeError):
        reason = "unreadable fatal.json"
    return f"fatal.json present ({reason})"
