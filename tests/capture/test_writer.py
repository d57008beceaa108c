"""Segments rotate by size and time; time flushes happen without flush(); overflow is counted."""

from __future__ import annotations

from pathlib import Path

from pmtape.capture import CaptureReader, CaptureWriter, FrameKind, WriterOptions
from tests.helpers import eventually_sync

from .util import MONO0, SEC, WALL0, payload


def _names(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_segments_rotate_by_size(tmp_path: Path) -> None:
    opts = WriterOptions(block_bytes=1024, segment_max_bytes=4096, threaded=False)
    with CaptureWriter(tmp_path, 3, opts) as w:
        for i in range(600):
            w.append(FrameKind.WS_TEXT, "ws", payload(i, pad=200), WALL0 + i, MONO0 + i)
    names = _names(tmp_path)
    assert names[:4] == [
        "shard_03-0001.frames",
        "shard_03-0001.idx",
        "shard_03-0002.frames",
        "shard_03-0002.idx",
    ]
    assert "shard_03.frames" in names
    assert "shard_03.idx" in names
    frames_files = [tmp_path / n for n in names if n.endswith(".frames")]
    assert len(frames_files) > 3
    assert all(p.stat().st_size <= 4096 for p in frames_files)
    got = list(CaptureReader(tmp_path).frames())
    assert [f.payload for f in got] == [payload(i, pad=200) for i in range(600)]


def test_segments_rotate_by_time(tmp_path: Path) -> None:
    opts = WriterOptions(block_bytes=256, segment_max_s=10.0, threaded=False)
    with CaptureWriter(tmp_path, 0, opts) as w:
        for i in range(60):  # one frame a second of receive time: 60 s -> 6 segments
            w.append(FrameKind.WS_TEXT, "ws", payload(i, pad=300), WALL0 + i * SEC, MONO0 + i * SEC)
    frames_files = sorted(tmp_path.glob("*.frames"))
    assert len(frames_files) == 6
    got = list(CaptureReader(tmp_path).frames())
    assert [f.index for f in got] == list(range(60))


def test_background_thread_flushes_within_the_interval(tmp_path: Path) -> None:
    w = CaptureWriter(tmp_path, 0, WriterOptions(flush_interval_s=0.1))
    try:
        w.append(FrameKind.WS_TEXT, "ws", b"{}", WALL0, MONO0)
        eventually_sync(lambda: w.stats().durable_frames == 1, timeout_s=5)
        assert len(list(CaptureReader(tmp_path).frames())) == 1
    finally:
        w.close()


def test_overfull_handoff_refuses_frames_and_counts_them(tmp_path: Path) -> None:
    opts = WriterOptions(block_bytes=64 << 10, queue_max_bytes=64 << 10, zstd_level=19)
    w = CaptureWriter(tmp_path, 0, opts)
    n = 6000
    for i in range(n):  # far faster than zstd -19 can keep up with
        w.append(FrameKind.WS_TEXT, "ws", payload(i, pad=1000), WALL0 + i, MONO0 + i)
    w.close()
    s = w.stats()
    assert s.dropped_frames > 0
    assert s.durable_frames + s.dropped_frames == s.frames == n
    got = list(CaptureReader(tmp_path).frames())
    assert len(got) == s.durable_frames
    assert [f.index for f in got] == list(range(len(got)))  # numbering has no holes


def test_metrics_record_carries_the_capture_fields(tmp_path: Path) -> None:
    import time

    with CaptureWriter(tmp_path, 2, WriterOptions(threaded=False)) as w:
        w.append(FrameKind.WS_TEXT, "ws", b"{}", time.time_ns(), time.monotonic_ns())
        w.flush()
        rec = w.metrics_record()
    assert rec["shard"] == 2
    assert rec["capture_frames"] == 1
    assert rec["capture_dropped_total"] == 0
    assert len(rec["rx_to_durable_ms"]) == 1
    assert 0 <= rec["rx_to_durable_ms"][0] < 5000
    assert w.drain_durable_lag_ms() == []


def test_recent_payloads_keep_the_last_frames(tmp_path: Path) -> None:
    with CaptureWriter(tmp_path, 0, WriterOptions(threaded=False, recent_frames=3)) as w:
        for i in range(10):
            w.append(FrameKind.WS_TEXT, "ws", payload(i), 0, 0)
        assert w.recent_payloads() == [payload(7), payload(8), payload(9)]
