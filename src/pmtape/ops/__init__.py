"""Operations: quality gates and run reports (metrics, offload and soak will follow)."""

from pmtape.ops.gate import GateResult, GateThresholds, run_gate
from pmtape.ops.reports import AuditResult, audit_runlog, compute_latency, write_latency_report

__all__ = [
    "AuditResult",
    "GateResult",
    "GateThresholds",
    "audit_runlog",
    "compute_latency",
    "run_gate",
    "write_latency_report",
]
