"""CaptureWriter: the receive path's raw-first append; packed, compressed and written off it."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import zstandard

from pmtape.capture.format import BlockHeader, FrameKind, crc32c
from pmtape.capture.options import WriterOptions, WriterStats
from pmtape.capture.segment import SegmentLimits, SegmentSink
from pmtape.core.errors import StoreError
from pmtape.core.http import HttpMeta

try:
    from pmtape.capture.handoff import Buf, Handoff
except ImportError as exc:  # pragma: no cover - a source tree nobody built
    raise ImportError(
        f"pmtape's compiled capture packer is missing ({exc}); run `make build` "
        "(or `pip install .`, which compiles it)"
    ) from exc

_FLUSH_WAIT_S = 0.5
_TICK_S = 0.05
"""How often the writer thread looks for sealed blocks (and for an open one grown old)."""


@dataclass(slots=True)
class _Sealed:
    buf: Buf  # the records, as a read-only buffer
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

    The receive path's ``append`` packs the frame's record with its CRC32C into the open
    block (compiled: ``handoff.pyx``); a block is sealed at ``block_bytes`` or
    ``flush_interval_s`` after its first frame, and the writer thread compresses and writes
    it. Without a thread (``threaded=False``) the caller's ``append`` also writes.
    """

    def __init__(self, capture_dir: Path, shard: int, options: WriterOptions | None = None) -> None:
        opts = options or WriterOptions()
        self.shard = shard
        self.options = opts
        # The file layer: public so fault-injection tests can make its writes fail (ENOSPC).
        self.segments = SegmentSink(
            capture_dir, shard, SegmentLimits(opts.segment_max_bytes, opts.segment_max_s)
        )
        self._cctx = zstandard.ZstdCompressor(level=opts.zstd_level, write_content_size=True)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._c = _Counters()
        self._handoff = Handoff(opts.block_bytes, opts.queue_max_bytes, opts.recent_frames)
        self._lags_ms: deque[float] = deque(maxlen=4096)
        self._flush_want = self._flush_done = 0
        self._stop = False
        self._last_fsync = time.monotonic()
        self._unsynced = False
        self._thread: threading.Thread | None = None
        if opts.threaded:
            self._handoff.on_seal = self._wake
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
            self._drain(force=False)

    def frame_appender(self) -> Callable[[FrameKind, str, bytes, int, int], None]:
        """Return the cheapest way to append frames without HTTP metadata (the receive path's).

        With the writer thread that is the handoff's own compiled ``push``; without it,
        ``append``, which also writes.
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
            self._drain(force=True)
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
        self.segments.close()

    def stats(self) -> WriterStats:
        """Return a snapshot of the counters."""
        c = self._c
        h = self._handoff
        return WriterStats(
            self.shard,
            h.queued + h.refused + h.unencodable,
            h.queued_bytes + h.refused_bytes,
            c.durable_frames,
            c.durable_raw_bytes,
            c.compressed_bytes,
            c.blocks,
            self.segments.segments_opened,
            c.dropped_frames + h.refused + h.unencodable,
            c.dropped_bytes + h.refused_bytes,
            c.write_errors + h.unencodable,
            h.backlog(),
            c.last_mono,
            c.last_wall,
            c.last_error or h.last_unencodable,
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

    # -- writing (the writer thread, or the caller's in unthreaded mode) ----------------------

    def _wake(self) -> None:
        # A push sealed a block: let the writer take it now (its buffer comes back sooner).
        with self._cond:
            self._cond.notify()

    def _run(self) -> None:
        _lower_priority(self.options.thread_nice)
        tick = min(_TICK_S, self.options.flush_interval_s / 4)
        h = self._handoff
        while True:
            with self._cond:
                if not self._stop and self._flush_want <= self._flush_done and not h.sealed_count():
                    self._cond.wait(tick)
                want = self._flush_want
                stop = self._stop
            forced = stop or want > self._flush_done
            self._drain(force=forced)
            self._sync(force=forced)
            if forced:
                with self._cond:
                    self._flush_done = max(self._flush_done, h.taken)
                    self._cond.notify_all()
            if stop and not h.backlog():
                return

    def _drain(self, *, force: bool) -> None:
        """Write the sealed blocks, one at a time, and the open one if it is due (or forced).

        Forced (a flush), it writes every frame appended before the call, sealing the open
        block for it; frames appended meanwhile wait for their block to fill or age.
        """
        h = self._handoff
        max_age = self.options.flush_interval_s
        want = h.queued if force else -1
        while True:
            block = h.take(h.taken < want, max_age)
            if block is None:
                return
            sealed = _Sealed(*block)
            self._write_block(sealed)
            h.recycle(sealed.buf)
            self._unsynced = self.options.fsync

    def _sync(self, *, force: bool) -> None:
        """fsync what was written, when asked or at least every ``flush_interval_s``."""
        now = time.monotonic()
        if self._unsynced and (force or now - self._last_fsync >= self.options.flush_interval_s):
            try:
                self.segments.fsync()
            except OSError as exc:
                self._count_error(exc)
            self._last_fsync = now
            self._unsynced = False

    def _write_block(self, block: _Sealed) -> None:
        c = self._c
        try:
            with memoryview(block.buf) as raw:
                body = self._cctx.compress(raw)
            hdr = BlockHeader(
                len(body),
                len(block.buf),
                block.frames,
                0,
                block.wall_min,
                block.wall_max,
                block.mono_min,
                block.mono_max,
                crc32c(body),
            )
            written = self.segments.write_block(hdr, body)
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
