"""The compiled packer (handoff.pyx): its CRC32C and frames it cannot encode."""

from __future__ import annotations

from pathlib import Path

import google_crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

from pmtape.capture.format import FrameKind
from pmtape.capture.handoff import crc32c
from pmtape.capture.options import WriterOptions
from pmtape.capture.reader import CaptureReader
from pmtape.capture.writer import CaptureWriter

from .util import MONO0, WALL0


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2048), start=st.integers(0, 2**32 - 1))
def test_crc32c_agrees_with_google_crc32c_both_ways(data: bytes, start: int) -> None:
    want = google_crc32c.extend(start, data)
    assert crc32c(data, start) == want
    assert crc32c(data, start, hardware=False) == want


def test_crc32c_of_the_standard_check_string() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c(b"123456789", hardware=False) == 0xE3069283


def test_a_frame_it_cannot_encode_is_counted_and_its_neighbours_kept(tmp_path: Path) -> None:
    with CaptureWriter(tmp_path, 0, WriterOptions(threaded=False)) as w:
        w.append(FrameKind.WS_TEXT, "ws", b"a", WALL0, MONO0)
        w.append(FrameKind.WS_TEXT, "ws", b"b", 2**63, MONO0 + 1)  # a stamp past int64
        w.append(FrameKind.WS_TEXT, "x" * 70_000, b"c", WALL0 + 2, MONO0 + 2)  # name > u16
        w.append(FrameKind.WS_TEXT, "ws", b"d", WALL0 + 3, MONO0 + 3)
        s = w.stats()
    assert s.frames == 4
    assert s.dropped_frames == 2
    assert s.write_errors == 2
    assert s.last_error is not None
    assert "OverflowError" in s.last_error
    assert [f.payload for f in CaptureReader(tmp_path).frames()] == [b"a", b"d"]
