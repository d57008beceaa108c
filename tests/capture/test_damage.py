"""Damage is found and named; torn tails are tolerated by readers and repaired by writers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import zstandard

from pmtape.capture import CaptureReader, CaptureWriter, FrameKind, WriterOptions, verify_bundle
from pmtape.capture.format import (
    BLOCK_HEADER,
    RECORD_HEAD,
    BlockHeader,
    IdxEntry,
    crc32c,
    pack_block_header,
    pack_idx_entry,
)
from pmtape.core.errors import CaptureCorrupt

from .util import flip_byte, idx_entries, make_run, payload

HDR = BLOCK_HEADER.size


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return make_run(tmp_path, shards=1, frames=600)


def _frames(run: Path) -> Path:
    return run / "capture" / "shard_00.frames"


def _idx(run: Path) -> Path:
    return run / "capture" / "shard_00.idx"


def test_healthy_run_verifies(run: Path) -> None:
    res = verify_bundle(run)
    assert res.ok, res.errors
    assert res.totals["frames"] == 601
    assert res.totals["crc_mismatch"] == res.totals["idx_mismatch"] == 0


@pytest.mark.parametrize("where", ["body", "header"])
def test_flipped_byte_is_named_by_block_and_frames(run: Path, where: str) -> None:
    entries = idx_entries(_idx(run))
    k = len(entries) // 2
    e = entries[k]
    flip_byte(_frames(run), e.offset + (HDR + e.comp_len // 2 if where == "body" else 20))

    res = verify_bundle(run)

    assert not res.ok
    assert res.totals["crc_mismatch"] == 1
    span = f"frames {e.first_frame}-{e.first_frame + e.n_frames - 1}"
    assert f"block {k} at offset {e.offset}" in res.first_error
    assert span in res.first_error
    assert res.totals["frames"] == 601 - e.n_frames  # every other block still checked
    with pytest.raises(CaptureCorrupt, match=span):
        list(CaptureReader(run).frames())
    lenient = CaptureReader(run, strict=False)
    got = [f.index for f in lenient.frames()]
    lost = set(range(e.first_frame, e.first_frame + e.n_frames))
    assert got == [i for i in range(601) if i not in lost]  # resynced after the damage
    assert len(lenient.damage) == 1


def test_bad_frame_inside_a_valid_block_is_named_by_frame(run: Path) -> None:
    entries = idx_entries(_idx(run))
    last = entries[-1]
    data = _frames(run).read_bytes()
    raw = bytearray(zstandard.ZstdDecompressor().decompress(data[last.offset + HDR :]))
    second = (
        RECORD_HEAD.size + RECORD_HEAD.unpack_from(raw)[2] + RECORD_HEAD.unpack_from(raw)[4] + 4
    )
    raw[second + RECORD_HEAD.size + 8] ^= 0x01  # inside the 2nd frame's stream/payload
    body = zstandard.ZstdCompressor().compress(bytes(raw))
    hdr = BlockHeader(len(body), len(raw), last.n_frames, last.first_frame, last.wall_min,
                      last.wall_max, last.mono_min, last.mono_max, crc32c(body))  # fmt: skip
    _frames(run).write_bytes(data[: last.offset] + pack_block_header(hdr) + body)
    idx = _idx(run).read_bytes()
    fixed = IdxEntry(last.offset, last.first_frame, last.n_frames, len(body), len(raw),
                     last.wall_min, last.wall_max, last.mono_min, last.mono_max)  # fmt: skip
    _idx(run).write_bytes(idx[:-64] + pack_idx_entry(fixed))

    res = verify_bundle(run)

    assert not res.ok
    assert f"frame {last.first_frame + 1}: frame checksum mismatch" in res.first_error


@pytest.mark.parametrize("cut", ["mid_body", "mid_header", "one_byte"])
def test_a_crash_torn_tail_keeps_every_complete_frame_and_is_named(
    tmp_path: Path, cut: str
) -> None:
    # What a kill during the block's write leaves: part of it, and no idx entry (the writer
    # adds the entry only after the whole block is written).
    run = make_run(tmp_path, shards=1, frames=600, finish=False)
    last = idx_entries(_idx(run))[-1]
    size = {"mid_body": last.offset + HDR + last.comp_len // 2, "mid_header": last.offset + 30}
    os.truncate(_frames(run), size.get(cut, last.offset + 1))
    os.truncate(_idx(run), _idx(run).stat().st_size - 64)

    got = list(CaptureReader(run).frames())

    assert [f.index for f in got] == list(range(last.first_frame))
    assert got[-1].payload == payload(last.first_frame - 1)
    res = verify_bundle(run)
    assert res.ok, res.errors  # a crash's torn tail, no frame recorded as written lost
    assert res.totals["torn_tail_bytes"] > 0
    assert res.notes == [
        f"shard 00 shard_00.frames: torn tail: {res.totals['torn_tail_bytes']} bytes at offset "
        f"{last.offset}: the block being written when the run crashed (skipped)"
    ]


def test_a_torn_tail_still_in_the_idx_is_lost_durable_frames(run: Path) -> None:
    last = idx_entries(_idx(run))[-1]
    os.truncate(_frames(run), last.offset + HDR + last.comp_len // 2)

    res = verify_bundle(run)

    assert not res.ok
    frames = f"frames {last.first_frame}-{last.first_frame + last.n_frames - 1}"
    assert any(f"{frames} missing: the idx points past the end" in e for e in res.errors)
    with pytest.raises(CaptureCorrupt, match="the idx points past the end"):
        list(CaptureReader(run).frames())


def test_reopening_writer_truncates_torn_tail_and_continues(run: Path) -> None:
    last = idx_entries(_idx(run))[-1]
    os.truncate(_frames(run), last.offset + HDR + 5)
    opts = WriterOptions(threaded=False, block_bytes=2048)
    with CaptureWriter(run / "capture", 0, opts) as w:
        for i in range(50):
            w.append(FrameKind.WS_TEXT, "ws-0", payload(10_000 + i), 0, 0)

    assert _frames(run).stat().st_size == last.offset  # torn bytes gone, nothing before them
    assert (run / "capture" / "shard_00-0001.frames").exists()
    got = list(CaptureReader(run).frames())
    assert [f.index for f in got] == list(range(last.first_frame + 50))
    assert verify_bundle(run).ok


def test_reopening_writer_rebuilds_missing_idx_entries(run: Path) -> None:
    entries = idx_entries(_idx(run))
    os.truncate(_idx(run), 32 + 64 * 3 + 10)  # crash between frames and idx writes
    CaptureWriter(run / "capture", 0, WriterOptions(threaded=False)).close()
    assert idx_entries(_idx(run)) == entries
    assert verify_bundle(run).ok


def test_random_bytes_as_frames_file_is_capture_corrupt(tmp_path: Path) -> None:
    run = make_run(tmp_path, shards=1, frames=10)
    _frames(run).write_bytes(os.urandom(4096))
    with pytest.raises(CaptureCorrupt, match="not a pmtape capture file"):
        list(CaptureReader(run).frames())
    res = verify_bundle(run)
    assert not res.ok
    assert "not a pmtape capture file" in res.first_error


def test_reader_on_a_directory_without_capture_is_capture_corrupt(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CaptureCorrupt, match="holds no capture"):
        CaptureReader(tmp_path)


def test_damaged_idx_entry_fails_verify_and_a_reopening_writer_rebuilds_it(run: Path) -> None:
    flip_byte(_idx(run), 32 + 64 * 2 + 10)
    res = verify_bundle(run)
    assert not res.ok
    assert res.totals["idx_mismatch"] == 1
    assert "idx entry 2: checksum mismatch" in res.first_error
    CaptureWriter(run / "capture", 0, WriterOptions(threaded=False)).close()
    assert verify_bundle(run).ok


def test_missing_idx_fails_verify(run: Path) -> None:
    _idx(run).unlink()
    res = verify_bundle(run)
    assert not res.ok
    assert "shard_00.idx is missing" in res.first_error
