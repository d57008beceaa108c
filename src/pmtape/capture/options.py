"""What a CaptureWriter is told (WriterOptions) and what it reports (WriterStats)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ZSTD_LEVEL = 1  # on JSON frames: faster than 3 and compresses as well (bench)


@dataclass(frozen=True, slots=True)
class WriterOptions:
    """Tuning of a CaptureWriter; the defaults suit a live collector."""

    block_bytes: int = 1 << 20
    flush_interval_s: float = 1.0
    segment_max_bytes: int = 1 << 30
    segment_max_s: float = 3600.0
    zstd_level: int = DEFAULT_ZSTD_LEVEL
    queue_max_bytes: int = 64 << 20
    fsync: bool = True
    threaded: bool = True
    recent_frames: int = 32
    thread_nice: int = 10


@dataclass(frozen=True, slots=True)
class WriterStats:
    """A snapshot of a writer's counters."""

    shard: int
    frames: int
    raw_bytes: int
    durable_frames: int
    durable_raw_bytes: int
    compressed_bytes: int
    blocks: int
    segments: int
    dropped_frames: int
    dropped_bytes: int
    write_errors: int
    queue_bytes: int
    last_durable_rx_mono_ns: int | None
    last_durable_rx_wall_ns: int | None
    last_error: str | None

    @property
    def compression_ratio(self) -> float:
        """Return raw payload bytes per byte on disk (0.0 before the first block)."""
        return self.durable_raw_bytes / self.compressed_bytes if self.compressed_bytes else 0.0
