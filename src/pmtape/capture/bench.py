"""bench: capture write and read throughput on synthetic market-channel frames."""

from __future__ import annotations

import gc
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from pmtape.capture.bundle import RunBundle
from pmtape.capture.format import FrameKind
from pmtape.capture.options import WriterOptions
from pmtape.capture.reader import CaptureReader
from pmtape.capture.synth import MarketChannelSynth
from pmtape.capture.writer import CaptureWriter

_WALL0 = 1_760_000_000_000_000_000
_STEP_NS = 5_000


@dataclass(slots=True)
class BenchResult:
    """Figures of one bench run (MB = 10^6 bytes of raw payload)."""

    frames: int
    raw_bytes: int
    avg_frame_bytes: float
    zstd_level: int
    block_bytes: int
    write_frames_per_s: float
    write_mb_per_s: float
    write_cpu_mb_per_s: float
    threaded_append_mb_per_s: float
    threaded_total_mb_per_s: float
    append_p99_us: float
    append_max_us: float
    compression_ratio: float
    disk_bytes: int
    drops: int
    read_frames_per_s: float
    read_mb_per_s: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def synth_payloads(n: int, seed: int = 7) -> list[bytes]:
    """Return ``n`` synthetic market-channel JSON payloads."""
    return list(MarketChannelSynth(seed=seed).frames(n))


def _write(
    capture_dir: Path, shard: int, payloads: list[bytes], opts: WriterOptions
) -> tuple[float, float, float, CaptureWriter]:
    writer = CaptureWriter(capture_dir, shard, opts)
    append, kind = writer.append, FrameKind.WS_TEXT
    wall, mono = _WALL0, time.monotonic_ns()
    t0, c0 = time.perf_counter(), time.process_time()
    for p in payloads:
        wall += _STEP_NS
        mono += _STEP_NS
        append(kind, "ws-0", p, wall, mono)
    t_append = time.perf_counter() - t0
    writer.close()
    return t_append, time.perf_counter() - t0, time.process_time() - c0, writer


def _append_latencies_us(
    capture_dir: Path, payloads: list[bytes], opts: WriterOptions
) -> list[float]:
    writer = CaptureWriter(capture_dir, 2, opts)
    append, kind, clock = writer.append, FrameKind.WS_TEXT, time.perf_counter_ns
    lat: list[float] = []
    mono = time.monotonic_ns()
    for i, p in enumerate(payloads):
        t0 = clock()
        append(kind, "ws-0", p, _WALL0 + i * _STEP_NS, mono + i * _STEP_NS)
        lat.append((clock() - t0) / 1000)
    writer.close()
    return sorted(lat)


def run_bench(
    run_dir: Path,
    frames: int = 200_000,
    options: WriterOptions | None = None,
    payloads: list[bytes] | None = None,
) -> BenchResult:
    """Write synthetic frames into a new bundle at ``run_dir`` and read them back, timing both."""
    base = replace(options or WriterOptions(), fsync=False)
    payloads = payloads[:frames] if payloads is not None else synth_payloads(frames)
    bundle = RunBundle.create_at(run_dir, {"purpose": "capture bench", "frames": frames})
    gc.collect()
    gc.freeze()  # as the collector does after start-up: the payload list is not garbage
    try:
        return _measure(bundle, payloads, base)
    finally:
        gc.unfreeze()


def _measure(bundle: RunBundle, payloads: list[bytes], base: WriterOptions) -> BenchResult:
    frames = len(payloads)
    raw = sum(map(len, payloads))
    _, t_sync, cpu_sync, w_sync = _write(
        bundle.capture_dir, 0, payloads, replace(base, threaded=False)
    )
    # An unbounded handoff: a bench loop never idles the way a receive loop does, so on one
    # core the writer thread would fall behind and drop; here we measure throughput instead.
    threaded = replace(base, threaded=True, queue_max_bytes=1 << 40)
    t_app, t_thr, _, w_thr = _write(bundle.capture_dir, 1, payloads, threaded)
    lat = _append_latencies_us(bundle.capture_dir, payloads, threaded)
    bundle.finish("bench")
    t0 = time.perf_counter()
    n_read = sum(1 for _ in CaptureReader(bundle.path).shard_frames(0))
    t_read = time.perf_counter() - t0
    s0, s1 = w_sync.stats(), w_thr.stats()
    mb = raw / 1e6
    return BenchResult(
        frames=frames,
        raw_bytes=raw,
        avg_frame_bytes=round(raw / max(frames, 1), 1),
        zstd_level=base.zstd_level,
        block_bytes=base.block_bytes,
        write_frames_per_s=round(frames / t_sync),
        write_mb_per_s=round(mb / t_sync, 1),
        write_cpu_mb_per_s=round(mb / cpu_sync, 1),
        threaded_append_mb_per_s=round(mb / t_app, 1),
        threaded_total_mb_per_s=round(mb / t_thr, 1),
        append_p99_us=round(lat[int(len(lat) * 0.99)], 1),
        append_max_us=round(lat[-1], 1),
        compression_ratio=round(s0.compression_ratio, 2),
        disk_bytes=s0.compressed_bytes,
        drops=s0.dropped_frames + s1.dropped_frames,
        read_frames_per_s=round(n_read / t_read),
        read_mb_per_s=round(mb / t_read, 1),
    )
