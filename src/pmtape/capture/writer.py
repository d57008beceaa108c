"""CaptureWriter: the receive path's raw-first append, compressed and written off the hot path."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import google_crc32c
import zstandard

from pmtape.capture.format import RECORD_HEAD, U32, BlockHeader, FrameKind, HttpMeta, crc32c
from pmtape.capture.options import WriterOptions, WriterStats
from pmtape.capture.segment import SegmentLimits, SegmentSink
from pmtape.core.errors import StoreError, UsageError

_FLUSH_WAIT_S = 0.5
_pack_head = RECORD_HEAD.pack
_pack_u32 = U32.pack
_crc = google_crc32c.value


@dataclass(slots=True)
class _Sealed:
    raw: bytearray
    frames: int
    payload_bytes: int
    wall_min: int
    wall_max: int
    mono_min: int
    mono_max: int


class _Counters:
    def __init__(self) -> None:
        self.frames = self.raw_bytes = 0
        self.durable_frames = self.durable_raw_bytes = self.compressed_bytes = self.blocks = 0
        self.dropped_frames = self.dropped_bytes = self.write_errors = self.queue_bytes = 0
        self.last_mono: int | None = None
        self.last_wall: int | None = None
        self.last_error: str | None = None


class CaptureWriter:
    """Append frames of one shard; blocks are compressed and written by a background thread."""

    def __init__(self, capture_dir: Path, shard: int, options: WriterOptions | None = None) -> None:
        opts = options or WriterOptions()
        self.shard = shard
        self.options = opts
        self._sink = SegmentSink(
            capture_dir, shard, SegmentLimits(opts.segment_max_bytes, opts.segment_max_s)
        )
        self._cctx = zstandard.ZstdCompressor(level=opts.zstd_level, write_content_size=True)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._c = _Counters()
        self._streams: dict[str, bytes] = {}
        self._recent: deque[bytes] = deque(maxlen=opts.recent_frames)
        self._block_bytes = opts.block_bytes
        self._lags_ms: deque[float] = deque(maxlen=4096)
        self._sealed: deque[_Sealed] = deque()
        self._seq_sealed = self._seq_done = 0
        self._fsync_req = self._stop = self._closed = False
        self._last_fsync = time.monotonic()
        self._unsynced = False
        self._buf = bytearray()
        self._n = self._payload = 0
        self._t0 = 0.0
        self._wall_min = self._wall_max = self._mono_min = self._mono_max = 0
        self._thread: threading.Thread | None = None
        if opts.threaded:
            self._thread = threading.Thread(
                target=self._run, name=f"capture-writer-{shard:02d}", daemon=True
            )
            self._thread.start()

    def append(
        self,
        kind: FrameKind,
        stream: str,
        payload: bytes,
        rx_wall_ns: int,
        rx_mono_ns: int,
        http: HttpMeta | None = None,
    ) -> None:
        """Append one frame; never blocks on I/O (an overfull handoff drops and counts)."""
        sid = self._streams.get(stream)
        if sid is None:
            sid = self._streams[stream] = stream.encode()
        meta = b"" if http is None else http.encode()
        plen = len(payload)
        rec = b"".join(
            (
                _pack_head(kind, 0, len(sid), len(meta), plen, rx_wall_ns, rx_mono_ns),
                sid,
                meta,
                payload,
            )
        )
        crc = _pack_u32(_crc(rec))
        with self._lock:
            if self._closed:
                raise UsageError("append to a closed CaptureWriter")
            buf = self._buf
            if not buf:
                self._start_block(rx_wall_ns, rx_mono_ns)
            buf += rec
            buf += crc
            self._n += 1
            self._payload += plen
            if rx_wall_ns < self._wall_min:
                self._wall_min = rx_wall_ns
            elif rx_wall_ns > self._wall_max:
                self._wall_max = rx_wall_ns
            if rx_mono_ns > self._mono_max:
                self._mono_max = rx_mono_ns
            elif rx_mono_ns < self._mono_min:
                self._mono_min = rx_mono_ns
            self._recent.append(payload)
            if len(buf) >= self._block_bytes or (
                self._thread is None
                and time.monotonic() - self._t0 >= self.options.flush_interval_s
            ):
                self._seal(force=False)
        if self._thread is None and self._sealed:
            self._drain_sync(fsync=False)

    def flush(self) -> None:
        """Write everything appended so far and fsync it (blocks the caller until done)."""
        if self._closed:
            return
        if self._thread is None:
            with self._lock:
                self._seal(force=True)
            self._drain_sync(fsync=self.options.fsync)
            return
        with self._cond:
            self._seal(force=True)
            want = self._seq_sealed
            self._fsync_req = True
            self._cond.notify_all()
            while self._seq_done < want or self._fsync_req:
                if not self._thread.is_alive():
                    raise StoreError(f"capture writer thread of shard {self.shard} is gone")
                self._cond.wait(_FLUSH_WAIT_S)

    def close(self) -> None:
        """Flush, stop the background thread and close the files (idempotent)."""
        if self._closed:
            return
        self.flush()
        with self._cond:
            self._closed = self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        self._sink.close()

    def stats(self) -> WriterStats:
        """Return a snapshot of the counters."""
        c = self._c
        return WriterStats(
            self.shard,
            c.frames + self._n,
            c.raw_bytes + self._payload,
            c.durable_frames,
            c.durable_raw_bytes,
            c.compressed_bytes,
            c.blocks,
            self._sink.segments_opened,
            c.dropped_frames,
            c.dropped_bytes,
            c.write_errors,
            c.queue_bytes,
            c.last_mono,
            c.last_wall,
            c.last_error,
        )

    def recent_payloads(self) -> list[bytes]:
        """Return the payloads of the last few frames appended (for last_frames_shard_NN.bin)."""
        with self._lock:
            return list(self._recent)

    def drain_durable_lag_ms(self) -> list[float]:
        """Return and forget the receive-to-durable samples (one per block, its oldest frame)."""
        with self._lock:
            out = list(self._lags_ms)
            self._lags_ms.clear()
        return out

    def metrics_record(self) -> dict[str, Any]:
        """Return the capture fields of a metrics/shard_NN.ndjson record (see CAPTURE_FORMAT)."""
        s = self.stats()
        return {
            "shard": self.shard,
            "capture_frames": s.frames,
            "capture_raw_bytes": s.raw_bytes,
            "capture_compressed_bytes": s.compressed_bytes,
            "capture_blocks": s.blocks,
            "capture_dropped_total": s.dropped_frames,
            "capture_write_errors": s.write_errors,
            "capture_queue_bytes": s.queue_bytes,
            "rx_to_durable_ms": self.drain_durable_lag_ms(),
        }

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- block assembly (caller's thread, under the lock) --------------------------------------

    def _new_block(self) -> None:
        self._buf = bytearray()
        self._n = self._payload = 0
        self._t0 = 0.0
        self._wall_min = self._wall_max = self._mono_min = self._mono_max = 0

    def _start_block(self, wall: int, mono: int) -> None:
        self._t0 = time.monotonic()
        self._wall_min = self._wall_max = wall
        self._mono_min = self._mono_max = mono
        self._cond.notify()

    def _seal(self, *, force: bool) -> None:
        if not self._buf:
            return
        block = _Sealed(
            self._buf,
            self._n,
            self._payload,
            self._wall_min,
            self._wall_max,
            self._mono_min,
            self._mono_max,
        )
        self._new_block()
        c = self._c
        c.frames += block.frames
        c.raw_bytes += block.payload_bytes
        if (
            not force
            and c.queue_bytes
            and c.queue_bytes + len(block.raw) > self.options.queue_max_bytes
        ):
            c.dropped_frames += block.frames
            c.dropped_bytes += block.payload_bytes
            return
        c.queue_bytes += len(block.raw)
        self._sealed.append(block)
        self._seq_sealed += 1
        self._cond.notify()

    # -- writing (background thread, or the caller's in unthreaded mode) -----------------------

    def _run(self) -> None:
        _lower_priority(self.options.thread_nice)
        while True:
            with self._cond:
                self._wait_for_work()
                batch = list(self._sealed)
                self._sealed.clear()
                fsync_req = self._fsync_req
                if self._stop and not batch:
                    return
            self._write_batch(batch, fsync=fsync_req)
            with self._cond:
                self._seq_done += len(batch)
                if fsync_req:
                    self._fsync_req = False
                self._cond.notify_all()

    def _wait_for_work(self) -> None:
        interval = self.options.flush_interval_s
        while not (self._sealed or self._stop or self._fsync_req):
            deadlines = [self._t0 + interval] if self._buf else []
            if self._unsynced:
                deadlines.append(self._last_fsync + interval)
            if not deadlines:
                self._cond.wait()
                continue
            now = time.monotonic()
            if min(deadlines) > now:
                self._cond.wait(min(deadlines) - now)
            elif self._buf and self._t0 + interval <= now:
                self._seal(force=False)
            else:
                return  # only an fsync is due; _write_batch does it

    def _drain_sync(self, *, fsync: bool) -> None:
        with self._lock:
            batch = list(self._sealed)
            self._sealed.clear()
        self._write_batch(batch, fsync=fsync)
        self._seq_done += len(batch)

    def _write_batch(self, batch: Iterable[_Sealed], *, fsync: bool) -> None:
        for block in batch:
            self._write_block(block)
            self._unsynced = self.options.fsync
        now = time.monotonic()
        due = now - self._last_fsync >= self.options.flush_interval_s
        if self._unsynced and (fsync or due):
            try:
                self._sink.fsync()
            except OSError as exc:
                self._count_error(exc)
            self._last_fsync = now
            self._unsynced = False

    def _write_block(self, block: _Sealed) -> None:
        c = self._c
        try:
            body = self._cctx.compress(block.raw)
            hdr = BlockHeader(
                len(body),
                len(block.raw),
                block.frames,
                0,
                block.wall_min,
                block.wall_max,
                block.mono_min,
                block.mono_max,
                crc32c(body),
            )
            written = self._sink.write_block(hdr, body)
        except (OSError, zstandard.ZstdError) as exc:
            self._count_error(exc)
            with self._lock:
                c.dropped_frames += block.frames
                c.dropped_bytes += block.payload_bytes
                c.queue_bytes -= len(block.raw)
            return
        lag_ms = (time.monotonic_ns() - block.mono_min) / 1e6
        with self._lock:
            c.queue_bytes -= len(block.raw)
            c.durable_frames += block.frames
            c.durable_raw_bytes += block.payload_bytes
            c.compressed_bytes += written
            c.blocks += 1
            c.last_mono, c.last_wall = block.mono_max, block.wall_max
            self._lags_ms.append(lag_ms)

    def _count_error(self, exc: BaseException) -> None:
        with self._lock:
            self._c.write_errors += 1
            self._c.last_error = f"{type(exc).__name__}: {exc}"


def _lower_priority(nice: int) -> None:
    """Let the receive loop win the CPU over compression (Linux: nice applies per thread)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError:
        pass  # best effort: without it compression merely competes on equal terms
