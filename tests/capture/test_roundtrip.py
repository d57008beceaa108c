"""Frames of every kind come back exactly as they were appended."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmtape.capture import CaptureReader, CaptureWriter, FrameKind, WriterOptions
from pmtape.core.http import HttpMeta

I64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
HTTP = st.builds(
    HttpMeta,
    method=st.sampled_from(["GET", "POST"]),
    url=st.text(min_size=1, max_size=60),
    status=st.integers(0, 599),
    latency_ns=st.integers(0, 2**62),
    params=st.none() | st.dictionaries(st.text(max_size=10), JSON_SCALARS, max_size=4),
)


@st.composite
def frames(draw: st.DrawFn) -> tuple[FrameKind, str, bytes, int, int, HttpMeta | None]:
    kind = draw(st.sampled_from(list(FrameKind)))
    http = draw(HTTP) if kind is FrameKind.HTTP_RESPONSE else None
    return (
        kind,
        draw(st.text(max_size=12)),
        draw(st.binary(max_size=3000)),
        draw(I64),
        draw(I64),
        http,
    )


@pytest.mark.parametrize("threaded", [False, True])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(frames(), max_size=60), block_bytes=st.sampled_from([64, 1024, 1 << 20]))
def test_every_kind_round_trips_exactly(threaded: bool, batch: list, block_bytes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        opts = WriterOptions(block_bytes=block_bytes, threaded=threaded, fsync=False)
        with CaptureWriter(Path(tmp), 7, opts) as w:
            for kind, stream, data, wall, mono, http in batch:
                w.append(kind, stream, data, wall, mono, http)
        got = list(CaptureReader(Path(tmp)).shard_frames(7))
    assert [(f.kind, f.stream, f.payload, f.rx_wall_ns, f.rx_mono_ns, f.http) for f in got] == batch
    assert [f.index for f in got] == list(range(len(batch)))
    assert all(f.shard == 7 for f in got)


def test_stats_count_frames_bytes_and_compression(tmp_path: Path) -> None:
    opts = WriterOptions(block_bytes=4096, threaded=True, fsync=False)
    body = b'{"event_type":"price_change","market":"0xabc","price":"0.52","size":"10"}'
    with CaptureWriter(tmp_path, 0, opts) as w:
        for i in range(2000):
            w.append(FrameKind.WS_TEXT, "ws-0", body, i, i)
    s = w.stats()
    assert (s.frames, s.durable_frames, s.dropped_frames) == (2000, 2000, 0)
    assert s.raw_bytes == s.durable_raw_bytes == 2000 * len(body)
    assert s.blocks > 1
    assert s.compressed_bytes == sum(p.stat().st_size for p in tmp_path.glob("*.frames")) - 32
    assert s.compression_ratio > 4
    assert s.last_durable_rx_mono_ns == 1999


def test_append_after_close_is_a_usage_error(tmp_path: Path) -> None:
    from pmtape.core.errors import UsageError

    w = CaptureWriter(tmp_path, 0, WriterOptions(threaded=False))
    w.close()
    with pytest.raises(UsageError):
        w.append(FrameKind.WS_TEXT, "s", b"x", 0, 0)
