"""inspect and slice: look at frames of a bundle, cut a time range into a new bundle."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pmtape.capture.bundle import RUNLOG, RunBundle, read_ndjson
from pmtape.capture.format import Frame, FrameKind
from pmtape.capture.losses import missing_files, recorded_counts, shortfalls
from pmtape.capture.options import WriterOptions
from pmtape.capture.reader import CaptureReader, FrameFilter
from pmtape.core.clock import iso_utc
from pmtape.core.errors import UsageError

_METRICS_RE = re.compile(r"^(?:global|shard_(\d+))\.ndjson$")


def parse_time_ns(text: str) -> int:
    """Parse an ISO-8601 time (UTC if no offset) or an epoch number in s, ms, us or ns."""
    t = text.strip()
    try:
        n = Decimal(t)
    except InvalidOperation:
        pass
    else:
        if n.is_finite():
            for limit, scale in ((10**11, 10**9), (10**14, 10**6), (10**17, 10**3)):
                if abs(n) < limit:
                    return int(n * scale)
            return int(n)
    try:
        dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"cannot read time {text!r}: use ISO-8601 or epoch s/ms/ns") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1_000_000) * 1000


def make_filter(
    since: str | None = None,
    until: str | None = None,
    streams: list[str] | None = None,
    kinds: list[str] | None = None,
) -> FrameFilter:
    """Build a FrameFilter from command-line text (wall-clock bounds)."""
    try:
        kind_set = frozenset(FrameKind.parse(k) for k in kinds) if kinds else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return FrameFilter(
        kinds=kind_set,
        streams=frozenset(streams) if streams else None,
        wall_from_ns=parse_time_ns(since) if since else None,
        wall_to_ns=parse_time_ns(until) if until else None,
    )


def frame_view(frame: Frame) -> dict[str, Any]:
    """Return a JSON-ready view of a frame, its payload decoded as JSON or text if it is one."""
    payload, encoding = _decode_payload(frame)
    return {
        "shard": frame.shard,
        "index": frame.index,
        "kind": frame.kind.label,
        "stream": frame.stream,
        "rx_utc": iso_utc(frame.rx_wall_ns // 1_000_000),
        "rx_wall_ns": frame.rx_wall_ns,
        "rx_mono_ns": frame.rx_mono_ns,
        "bytes": len(frame.payload),
        "http": None if frame.http is None else asdict(frame.http),
        "payload_encoding": encoding,
        "payload": payload,
    }


def _decode_payload(frame: Frame) -> tuple[Any, str]:
    data = frame.payload
    if frame.kind is not FrameKind.WS_BINARY:
        try:
            return json.loads(data), "json"
        except ValueError:
            pass
    try:
        return data.decode("utf-8"), "text"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


@dataclass(slots=True)
class InspectResult:
    """The first frames matching a filter."""

    run_dir: str
    shards: list[int]
    shown: int
    truncated: bool
    frames: list[dict[str, Any]]
    damage: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def inspect_bundle(
    run_dir: Path, flt: FrameFilter | None = None, shards: list[int] | None = None, limit: int = 20
) -> InspectResult:
    """Return up to ``limit`` frames matching ``flt``, merged across shards in replay order.

    Damaged or missing blocks met on the way are skipped and named in ``damage``, as are
    shards recorded as written whose files are gone (and, when every frame was read,
    frames recorded as written but not found).
    """
    bundle = RunBundle.open(run_dir)
    reader = CaptureReader(run_dir, strict=False)
    frames: list[dict[str, Any]] = []
    truncated = False
    for frame in reader.frames(flt, shards):
        if len(frames) >= limit:
            truncated = True
            break
        frames.append(frame_view(frame))
    recorded = recorded_counts(bundle)
    if shards is not None:
        recorded = {s: r for s, r in recorded.items() if s in shards}
    read_all = not truncated and (flt is None or flt == FrameFilter())
    lost = (
        shortfalls(recorded, reader.found) if read_all else missing_files(recorded, reader.shards)
    )
    damage = [str(d) for d in reader.damage] + lost
    return InspectResult(str(run_dir), reader.shards, len(frames), truncated, frames, damage)


@dataclass(slots=True)
class SliceResult:
    """What a slice copied into its new bundle."""

    source: str
    dest: str
    frames: int
    frames_by_shard: dict[int, int]
    runlog_records: int
    metrics_records: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def slice_bundle(src_dir: Path, dest_dir: Path, flt: FrameFilter) -> SliceResult:
    """Copy the frames, runlog and metrics records matching ``flt`` into a new bundle."""
    src = RunBundle.open(src_dir)
    if Path(dest_dir).exists() and any(Path(dest_dir).iterdir()):
        raise UsageError(f"slice destination {dest_dir} exists and is not empty")
    reader = CaptureReader(src_dir)
    meta = dict(src.manifest.get("meta", {}))
    meta["slice"] = {
        "source_run_id": src.run_id,
        "wall_from_ns": flt.wall_from_ns,
        "wall_to_ns": flt.wall_to_ns,
        "kinds": sorted(k.label for k in flt.kinds) if flt.kinds else None,
        "streams": sorted(flt.streams) if flt.streams else None,
    }
    dest = RunBundle.create_at(dest_dir, meta)
    by_shard = {s: _copy_shard(reader, s, dest, flt) for s in reader.shards}
    runlog_n = _copy_records(src.path / RUNLOG, dest.runlog.write, flt)
    metrics_n = 0
    for path in sorted((src.path / "metrics").glob("*.ndjson")):
        m = _METRICS_RE.match(path.name)
        if m is None:
            continue
        shard = None if m.group(1) is None else int(m.group(1))
        metrics_n += _copy_records(path, dest.metrics(shard).write, flt)
    dest.finish("slice")
    return SliceResult(
        str(src_dir), str(dest.path), sum(by_shard.values()), by_shard, runlog_n, metrics_n
    )


def _copy_shard(reader: CaptureReader, shard: int, dest: RunBundle, flt: FrameFilter) -> int:
    n = 0
    opts = WriterOptions(threaded=False, flush_interval_s=3600.0)
    capture = dest.open_capture([shard], opts)  # finish() records what it wrote
    for f in reader.shard_frames(shard, flt):
        capture.append(shard, f.kind, f.stream, f.payload, f.rx_wall_ns, f.rx_mono_ns, f.http)
        n += 1
    capture.close()
    return n


def _copy_records(path: Path, write: Callable[..., None], flt: FrameFilter) -> int:
    records, _ = read_ndjson(path)
    n = 0
    for rec in records:
        ts = rec.get("ts_ns")
        if not isinstance(ts, int) or not flt.may_match(ts, ts, *_mono_bounds(rec, flt)):
            continue
        if rec.get("kind") == "lifecycle":
            continue  # the slice writes its own start and stop
        fields = {k: v for k, v in rec.items() if k != "kind"}
        write(str(rec.get("kind")), **fields)
        n += 1
    return n


def _mono_bounds(rec: dict[str, Any], flt: FrameFilter) -> tuple[int, int]:
    mono = rec.get("mono_ns")
    if isinstance(mono, int):
        return mono, mono
    lo = flt.mono_from_ns if flt.mono_from_ns is not None else 0
    return lo, lo
