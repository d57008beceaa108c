"""CaptureWriter: the receive path's raw-first append; packed, compressed and written off it."""

from __future__ import annotations

import os
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import google_crc32c
import zstandard

from pmtape.capture.format import RECORD_HEAD, U32, BlockHeader, FrameKind, HttpMeta, crc32c
from pmtape.capture.handoff import Handoff
from pmtape.capture.options import WriterOptions, WriterStats
from pmtape.capture.segment import SegmentLimits, SegmentSink
from pmtape.core.errors import StoreError

_FLUSH_WAIT_S = 0.5
_TICK_S = 0.05
"""How often the writer thread packs what was queued (and checks block age)."""
_pack_head = RECORD_HEAD.pack
_pack_u32 = U32.pack
_crc = google_crc32c.value
_crc_extend = google_crc32c.extend


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
        self.durable_frames = self.durable_raw_bytes = self.compressed_bytes = self.blocks = 0
        self.dropped_frames = self.dropped_bytes = self.write_errors = 0
        self.last_mono: int | None = None
        self.last_wall: int | None = None
        self.last_error: str | None = None


class CaptureWriter:
    """Append frames of one shard; a background thread packs, compresses and writes them.

    The receive path's ``append`` only queues a reference to the frame (the payload is never
    copied there); the writer thread packs records with their CRC32C into blocks, seals a
    block at ``block_bytes`` or ``flush_interval_s`` after its first frame, compresses and
    writes it. Without a thread (``threaded=False``) the caller's ``append`` does that work.
    """

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
        self._handoff = Handoff(opts.queue_max_bytes, opts.recent_frames)
        self._block_bytes = opts.block_bytes
        self._lags_ms: deque[float] = deque(maxlen=4096)
        self._flush_want = self._flush_done = 0
        self._stop = False
        self._last_fsync = time.monotonic()
        self._unsynced = False
        # The block being packed (the packing thread's alone).
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
        """Append one frame; never blocks on I/O (a full handoff refuses the frame, counted)."""
        meta = b"" if http is None else http.encode()
        self._handoff.push_meta(kind, stream, meta, payload, rx_wall_ns, rx_mono_ns)
        if self._thread is None:
            self._pack(force=False)

    def frame_appender(self) -> Callable[[FrameKind, str, bytes, int, int], None]:
        """Return the cheapest way to append frames without HTTP metadata (the receive path's).

        With the writer thread that is the handoff's own compiled ``push``; without it,
        ``append``, which also packs and writes.
        """
        if self._thread is not None:
            return self._handoff.push
        return self._append_plain

    def _append_plain(
        self, kind: FrameKind, stream: str, payload: bytes, rx_wall_ns: int, rx_mono_ns: int
    ) -> None:
        self.append(kind, stream, payload, rx_wall_ns, rx_mono_ns)

    def flush(self) -> None:
        """Write everything appended so far and fsync it (blocks the caller until done)."""
        if self._handoff.closed:
            return
        if self._thread is None:
            self._pack(force=True)
            self._sync(force=self.options.fsync)
            return
        with self._cond:
            want = self._handoff.queued
            self._flush_want = max(self._flush_want, want)
            self._cond.notify_all()
            while self._flush_done < want:
                if not self._thread.is_alive():
                    raise StoreError(f"capture writer thread of shard {self.shard} is gone")
                self._cond.wait(_FLUSH_WAIT_S)

    def close(self) -> None:
        """Flush, stop the background thread and close the files (idempotent)."""
        if self._handoff.closed:
            return
        self.flush()
        with self._cond:
            self._stop = True
            self._handoff.closed = True  # from now on append() raises
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        self._sink.close()

    def stats(self) -> WriterStats:
        """Return a snapshot of the counters."""
        c = self._c
        h = self._handoff
        return WriterStats(
            self.shard,
            h.queued + h.refused,
            h.queued_bytes + h.refused_bytes,
            c.durable_frames,
            c.durable_raw_bytes,
            c.compressed_bytes,
            c.blocks,
            self._sink.segments_opened,
            c.dropped_frames + h.refused,
            c.dropped_bytes + h.refused_bytes,
            c.write_errors,
            h.backlog() + len(self._buf),
            c.last_mono,
            c.last_wall,
            c.last_error,
        )

    def recent_payloads(self) -> list[bytes]:
        """Return the payloads of the last few frames appended (for last_frames_shard_NN.bin)."""
        return list(self._handoff.recent)  # one C call: atomic against the appending thread

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

    # -- packing and writing (the writer thread, or the caller's in unthreaded mode) ----------

    def _run(self) -> None:
        _lower_priority(self.options.thread_nice)
        tick = min(_TICK_S, self.options.flush_interval_s / 4)
        while True:
            with self._cond:
                if not self._stop and self._flush_want <= self._flush_done:
                    self._cond.wait(tick)
                want = self._flush_want
                stop = self._stop
            forced = stop or want > self._flush_done
            self._pack(force=forced)
            self._sync(force=forced)
            if forced:
                with self._cond:
                    self._flush_done = max(self._flush_done, self._handoff.taken)
                    self._cond.notify_all()
            if stop and not self._handoff.q:
                return

    def _pack(self, *, force: bool) -> None:
        """Pack queued frames into blocks; write each block that is full, old or forced."""
        h = self._handoff
        q = h.q
        buf = self._buf
        limit = self._block_bytes
        for _ in range(len(q)):  # what is queued now: a flush waits for no later frame
            kind, sid, meta, payload, wall, mono = q.popleft()
            plen = len(payload)
            h.took(plen)
            try:
                head = _pack_head(kind, 0, len(sid), len(meta), plen, wall, mono)
            except struct.error as exc:  # a stamp out of range: this frame only
                self._count_error(exc)
                with self._lock:
                    self._c.dropped_frames += 1
                    self._c.dropped_bytes += plen
                continue
            crc = _crc_extend(_crc(head), sid)
            if meta:
                crc = _crc_extend(crc, meta)
            crc = _crc_extend(crc, payload)
            if not buf:
                self._start_block(wall, mono)
            buf += head
            buf += sid
            buf += meta
            buf += payload
            buf += _pack_u32(crc)
            self._n += 1
            self._payload += plen
            if wall < self._wall_min:
                self._wall_min = wall
            elif wall > self._wall_max:
                self._wall_max = wall
            if mono > self._mono_max:
                self._mono_max = mono
            elif mono < self._mono_min:
                self._mono_min = mono
            if len(buf) >= limit:
                self._seal()
                buf = self._buf
        if buf and (force or time.monotonic() - self._t0 >= self.options.flush_interval_s):
            self._seal()

    def _start_block(self, wall: int, mono: int) -> None:
        self._t0 = time.monotonic()
        self._wall_min = self._wall_max = wall
        self._mono_min = self._mono_max = mono

    def _seal(self) -> None:
        block = _Sealed(
            self._buf,
            self._n,
            self._payload,
            self._wall_min,
            self._wall_max,
            self._mono_min,
            self._mono_max,
        )
        self._buf = bytearray()
        self._n = self._payload = 0
        self._write_block(block)
        self._unsynced = self.options.fsync

    def _sync(self, *, force: bool) -> None:
        """fsync what was written, when asked or at least every ``flush_interval_s``."""
        now = time.monotonic()
        if self._unsynced and (force or now - self._last_fsync >= self.options.flush_interval_s):
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
            return
        lag_ms = (time.monotonic_ns() - block.mono_min) / 1e6
        with self._lock:
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
