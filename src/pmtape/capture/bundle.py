"""The run bundle captures/RUN_ID/: manifest, runlog, metrics, capture shards, fatal files."""

from __future__ import annotations

import json
import os
import re
import struct
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pmtape.capture.format import FrameKind
from pmtape.capture.options import WriterOptions, WriterStats
from pmtape.capture.writer import CaptureWriter
from pmtape.core.clock import iso_utc
from pmtape.core.errors import CaptureCorrupt, UsageError
from pmtape.core.http import HttpMeta
from pmtape.store.atomic import atomic_write_bytes
from pmtape.store.layout import captures_dir

BUNDLE_FORMAT = "pmtape-capture-bundle"
BUNDLE_VERSION = 1
MANIFEST = "manifest.json"
RUNLOG = "runlog.ndjson"
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_LEN = struct.Struct("<I")
_STOP_COUNTS = ("frames", "blocks", "dropped_frames", "write_errors")


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write readable JSON to ``path`` atomically (temp file, fsync, rename, fsync dir)."""
    data = json.dumps(obj, indent=2, sort_keys=True, default=str).encode() + b"\n"
    atomic_write_bytes(path, data)


def shard_file(stem: str, shard: int, ext: str) -> str:
    """Return ``stem_NN.ext`` for a shard number."""
    return f"{stem}_{shard:02d}.{ext}"


class NdjsonLog:
    """Append JSON lines stamped with ``ts_ns`` (wall) and ``mono_ns``; thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.errors = 0
        self._lock = threading.Lock()
        self._f = path.open("a", encoding="utf-8")

    def write(self, kind: str, /, **fields: Any) -> None:
        """Append one record ``{"ts_ns", "mono_ns", "kind", **fields}`` (fields may override)."""
        record = {"ts_ns": time.time_ns(), "mono_ns": time.monotonic_ns(), "kind": kind, **fields}
        line = json.dumps(record, separators=(",", ":"), default=str, ensure_ascii=False) + "\n"
        with self._lock:
            try:
                self._f.write(line)
                self._f.flush()
            except (OSError, ValueError):
                self.errors += 1  # a full disk must not stop the collector; counted here

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._f.close()


class ShardedCapture:
    """One CaptureWriter per shard of a run."""

    def __init__(
        self, capture_dir: Path, shards: Iterable[int], options: WriterOptions | None = None
    ) -> None:
        self.writers = {s: CaptureWriter(capture_dir, s, options) for s in shards}

    def append(
        self,
        shard: int,
        kind: FrameKind,
        stream: str,
        payload: bytes,
        rx_wall_ns: int,
        rx_mono_ns: int,
        http: HttpMeta | None = None,
    ) -> None:
        """Append one frame to a shard."""
        self.writers[shard].append(kind, stream, payload, rx_wall_ns, rx_mono_ns, http)

    def flush(self) -> None:
        """Flush every shard."""
        for w in self.writers.values():
            w.flush()

    def close(self) -> None:
        """Close every shard."""
        for w in self.writers.values():
            w.close()

    def stats(self) -> dict[int, WriterStats]:
        """Return each shard's counters."""
        return {s: w.stats() for s, w in self.writers.items()}

    def last_frames_by_shard(self) -> dict[int, list[bytes]]:
        """Return each shard's most recent payloads, for ``RunBundle.write_fatal``."""
        return {s: w.recent_payloads() for s, w in self.writers.items()}

    def metrics_record(self, shard: int) -> dict[str, Any]:
        """Return a shard's metrics fields, with the frames written so far (durable)."""
        writer = self.writers[shard]
        durable = writer.stats().durable_frames  # read first: a lower bound when the line lands
        return {**writer.metrics_record(), "capture_durable_frames": durable}


class RunBundle:
    """A capture run directory; create it at start, ``finish()`` it at stop."""

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        self.run_id: str = manifest["run_id"]
        self._runlog: NdjsonLog | None = None
        self._metrics: dict[int | None, NdjsonLog] = {}
        self._captures: list[ShardedCapture] = []

    @classmethod
    def create(cls, root: Path, run_id: str, manifest: Mapping[str, Any]) -> RunBundle:
        """Create ``root/captures/RUN_ID`` with its manifest; ``root`` is the data dir."""
        _check_run_id(run_id)
        return cls.create_at(captures_dir(Path(root)) / run_id, manifest)

    @classmethod
    def create_at(cls, path: Path, manifest: Mapping[str, Any]) -> RunBundle:
        """Create a bundle at ``path`` (its name is the run id) and write its manifest."""
        path = Path(path)
        run_id = _check_run_id(path.name)
        if (path / MANIFEST).exists():
            raise UsageError(f"run bundle {path} already exists")
        (path / "capture").mkdir(parents=True, exist_ok=True)
        (path / "metrics").mkdir(exist_ok=True)
        now = time.time_ns()
        doc: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_VERSION,
            "run_id": run_id,
            "started_wall_ns": now,
            "started_utc": iso_utc(now // 1_000_000),
            "stopped_wall_ns": None,
            "stopped_utc": None,
            "stop_reason": None,
            "meta": dict(manifest),
        }
        atomic_write_json(path / MANIFEST, doc)
        bundle = cls(path, doc)
        bundle.runlog.write("lifecycle", event="start", run_id=run_id)
        return bundle

    @classmethod
    def open(cls, path: Path) -> RunBundle:
        """Open an existing bundle, raising CaptureCorrupt if it is not a valid one."""
        path = Path(path)
        if not path.exists():
            raise UsageError(f"no run bundle at {path}")
        if not path.is_dir():
            raise UsageError(f"{path} is not a run bundle (not a directory)")
        return cls(path, read_manifest(path))

    @property
    def capture_dir(self) -> Path:
        """Return the directory holding the shard files."""
        return self.path / "capture"

    @property
    def runlog(self) -> NdjsonLog:
        """Return the runlog.ndjson appender."""
        if self._runlog is None:
            self._runlog = NdjsonLog(self.path / RUNLOG)
        return self._runlog

    def metrics(self, shard: int | None = None) -> NdjsonLog:
        """Return the appender of metrics/global.ndjson, or metrics/shard_NN.ndjson."""
        log = self._metrics.get(shard)
        if log is None:
            name = "global.ndjson" if shard is None else shard_file("shard", shard, "ndjson")
            (self.path / "metrics").mkdir(exist_ok=True)
            log = self._metrics[shard] = NdjsonLog(self.path / "metrics" / name)
        return log

    def open_capture(
        self, shards: Iterable[int], options: WriterOptions | None = None
    ) -> ShardedCapture:
        """Open one writer per shard under this bundle's capture/ directory."""
        capture = ShardedCapture(self.capture_dir, shards, options)
        self._captures.append(capture)
        return capture

    def write_fatal(
        self,
        reason: str,
        missing_tokens: Iterable[str],
        last_frames_by_shard: Mapping[int, Sequence[bytes]],
        **details: Any,
    ) -> None:
        """Write fatal.json, missing_tokens.json and last_frames_shard_NN.bin."""
        now = time.time_ns()
        fatal = {**details, "run_id": self.run_id, "reason": reason, "ts_ns": now}
        fatal["utc"] = iso_utc(now // 1_000_000)
        for shard, payloads in last_frames_by_shard.items():
            data = b"".join(_LEN.pack(len(p)) + p for p in payloads)
            (self.path / shard_file("last_frames_shard", shard, "bin")).write_bytes(data)
        atomic_write_json(self.path / "missing_tokens.json", list(missing_tokens))
        atomic_write_json(self.path / "fatal.json", fatal)
        self.runlog.write("lifecycle", event="fatal", reason=reason)

    def finish(self, stop_reason: str = "normal") -> None:
        """Close the captures, record the stop and the frames written in runlog and manifest."""
        counts = self._close_captures()
        frames = None if counts is None else {s: c["frames"] for s, c in counts.items()}
        self.runlog.write("lifecycle", event="stop", reason=stop_reason, frames_by_shard=frames)
        now = time.time_ns()
        self.manifest.update(
            stopped_wall_ns=now,
            stopped_utc=iso_utc(now // 1_000_000),
            stop_reason=stop_reason,
            capture_at_stop=counts,
        )
        atomic_write_json(self.path / MANIFEST, self.manifest)
        self.close()

    def _close_captures(self) -> dict[str, dict[str, int]] | None:
        """Close every capture opened here; return each shard's written frames and blocks."""
        if not self._captures:
            return None  # frames written by writers this bundle never saw: nothing to record
        counts: dict[str, dict[str, int]] = {}
        for capture in self._captures:
            capture.close()
            for shard, st in capture.stats().items():
                c = counts.setdefault(str(shard), dict.fromkeys(_STOP_COUNTS, 0))
                c["frames"] += st.durable_frames
                c["blocks"] += st.blocks
                c["dropped_frames"] += st.dropped_frames
                c["write_errors"] += st.write_errors
        return counts

    def __enter__(self) -> RunBundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the runlog and metrics appenders (the manifest is left as it is)."""
        for log in [self._runlog, *self._metrics.values()]:
            if log is not None:
                log.close()
        self._runlog = None
        self._metrics.clear()


def read_manifest(path: Path) -> dict[str, Any]:
    """Read and validate ``path/manifest.json``.

    No manifest at all is a usage error (the path is not a run bundle, like a missing run);
    a manifest that does not parse or validate is a damaged bundle (CaptureCorrupt).
    """
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise UsageError(f"{path} is not a run bundle (no {MANIFEST})")
    try:
        doc = json.loads(mpath.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise CaptureCorrupt(f"{mpath} is half-written or damaged: {_one_line(exc)}") from None
    if not isinstance(doc, dict) or doc.get("format") != BUNDLE_FORMAT:
        raise CaptureCorrupt(f"{mpath} is not a pmtape capture manifest")
    if doc.get("format_version") != BUNDLE_VERSION:
        raise CaptureCorrupt(f"{mpath}: unsupported bundle version {doc.get('format_version')!r}")
    for key in ("run_id", "started_wall_ns", "meta"):
        if key not in doc:
            raise CaptureCorrupt(f"{mpath} lacks {key!r}")
    return doc


def read_last_frames(path: Path) -> list[bytes]:
    """Read a last_frames_shard_NN.bin file back into payloads."""
    data, pos, out = path.read_bytes(), 0, []
    while pos + 4 <= len(data):
        (n,) = _LEN.unpack_from(data, pos)
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


def resolve_run_dir(run: str | Path, data_dir: Path) -> Path:
    """Resolve a bundle path, or a run id looked up under ``data_dir/captures``.

    A run that does not exist and a path that is not a run bundle are both a UsageError
    (exit 2); a bundle whose manifest is damaged is CaptureCorrupt when it is opened.
    """
    path = Path(run)
    if path.exists():
        return _is_bundle(path)
    text = str(run)
    if "/" not in text and os.sep not in text:
        candidate = captures_dir(Path(data_dir)) / text
        if candidate.exists():
            return _is_bundle(candidate)
        raise UsageError(f"no run bundle {text!r} (not a path, and no {candidate})")
    raise UsageError(f"no run bundle at {path}")


def _is_bundle(path: Path) -> Path:
    if not path.is_dir():
        raise UsageError(f"{path} is not a run bundle (not a directory)")
    if not (path / MANIFEST).is_file():
        raise UsageError(f"{path} is not a run bundle (no {MANIFEST})")
    return path


def _check_run_id(run_id: str) -> str:
    if not _RUN_ID_RE.match(run_id):
        raise UsageError(f"run id {run_id!r}: use letters, digits, '.', '_' or '-'")
    return run_id


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def read_ndjson(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Return the JSON object lines of a file and how many lines were not one."""
    if not path.exists():
        return [], 0
    records: list[dict[str, Any]] = []
    bad = 0
    with path.open("rb") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(obj, dict):
                records.append(obj)
            else:
                bad += 1
    return records, bad
