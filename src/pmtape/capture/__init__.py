"""Raw-first capture: every received frame appended to CRC-checked, zstd-block shard logs.

Format: docs/CAPTURE_FORMAT.md. Receive path: ``RunBundle`` + ``CaptureWriter``/``ShardedCapture``.
Read back: ``CaptureReader``. Tools: verify, inspect, slice, bench (gate, reports: pmtape.ops).
"""

from pmtape.capture.bench import BenchResult, run_bench
from pmtape.capture.bundle import (
    NdjsonLog,
    RunBundle,
    ShardedCapture,
    read_last_frames,
    resolve_run_dir,
)
from pmtape.capture.format import Frame, FrameKind
from pmtape.capture.options import WriterOptions, WriterStats
from pmtape.capture.reader import CaptureReader, FrameFilter
from pmtape.capture.tools import (
    InspectResult,
    SliceResult,
    inspect_bundle,
    make_filter,
    parse_time_ns,
    slice_bundle,
)
from pmtape.capture.verify import VerifyResult, verify_bundle
from pmtape.capture.writer import CaptureWriter
from pmtape.core.http import HttpMeta

__all__ = [
    "BenchResult",
    "CaptureReader",
    "CaptureWriter",
    "Frame",
    "FrameFilter",
    "FrameKind",
    "HttpMeta",
    "InspectResult",
    "NdjsonLog",
    "RunBundle",
    "ShardedCapture",
    "SliceResult",
    "VerifyResult",
    "WriterOptions",
    "WriterStats",
    "inspect_bundle",
    "make_filter",
    "parse_time_ns",
    "read_last_frames",
    "resolve_run_dir",
    "run_bench",
    "slice_bundle",
    "verify_bundle",
]
