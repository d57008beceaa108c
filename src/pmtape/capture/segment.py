"""The file side of a shard writer: segments, rotation, crash repair on reopen, fsync."""

from __future__ import annotations

import os
from dataclasses import dataclass
from io import FileIO
from pathlib import Path

from pmtape.capture.format import (
    FILE_HEADER,
    FRAMES_MAGIC,
    IDX_ENTRY,
    IDX_MAGIC,
    BlockHeader,
    IdxEntry,
    SegmentPaths,
    list_segments,
    pack_block_header,
    pack_file_header,
    pack_idx_entry,
    segment_name,
)
from pmtape.capture.scan import HDR, Block, Damage, Tail, iter_blocks, mapped, read_frames_header
from pmtape.capture.scan import read_idx as scan_read_idx
from pmtape.core.errors import CaptureCorrupt


@dataclass(frozen=True, slots=True)
class SegmentLimits:
    """When a segment is closed and the next one started."""

    max_bytes: int
    max_s: float


@dataclass(frozen=True, slots=True)
class RepairResult:
    """What reopening a shard found and fixed in its last segment."""

    next_frame: int
    next_segment: int
    truncated_bytes: int
    idx_entries_added: int


def repair_shard(capture_dir: Path, shard: int) -> RepairResult:
    """Truncate a torn tail of the shard's last segment, complete its idx, find the next frame."""
    segments = list_segments(capture_dir).get(shard, []) if capture_dir.exists() else []
    if not segments:
        return RepairResult(0, 0, 0, 0)
    next_segment = segments[-1].segment + 1
    for seg in reversed(segments):
        result = _repair_segment(seg)
        if result is not None:
            return RepairResult(result[0], next_segment, result[1], result[2])
    return RepairResult(0, next_segment, 0, 0)


def _repair_segment(seg: SegmentPaths) -> tuple[int, int, int] | None:
    with mapped(seg.frames) as buf:
        try:
            head = read_frames_header(buf, seg.frames.name)
        except CaptureCorrupt:
            return None  # a damaged older file stays as it is for verify to report
        if head is None:
            return None
        blocks: list[tuple[int, BlockHeader]] = []  # headers only: bodies may total gigabytes
        next_frame, valid_end, tail = head.first_frame, len(buf), 0
        for item in iter_blocks(buf):
            if isinstance(item, Block):
                blocks.append((item.offset, item.header))
                next_frame = max(next_frame, item.header.first_frame + item.header.n_frames)
            elif isinstance(item, Tail):
                valid_end, tail = item.offset, item.nbytes
            elif isinstance(item, Damage) and item.header is not None:
                next_frame = max(next_frame, item.header.first_frame + item.header.n_frames)
    if tail:
        os.truncate(seg.frames, valid_end)
    added = _complete_idx(seg, head.first_frame, blocks, valid_end)
    return next_frame, tail, added


def _complete_idx(
    seg: SegmentPaths, first_frame: int, blocks: list[tuple[int, BlockHeader]], valid_end: int
) -> int:
    idx = scan_read_idx(seg.idx)
    if idx.header_error is not None:
        return 0  # an idx we cannot read is left for verify to report, not overwritten
    if not idx.has_header:
        seg.idx.write_bytes(pack_file_header(IDX_MAGIC, seg.shard, seg.segment, first_frame))
    kept = [e for e in idx.entries if e.offset < valid_end]
    last = kept[-1].offset if kept else -1
    missing = [(off, hdr) for off, hdr in blocks if off > last]
    os.truncate(seg.idx, FILE_HEADER.size + len(kept) * IDX_ENTRY.size)
    with seg.idx.open("ab") as f:
        for off, hdr in missing:
            f.write(pack_idx_entry(_entry(off, hdr)))
    return len(missing)


def _entry(offset: int, hdr: BlockHeader) -> IdxEntry:
    return IdxEntry(
        offset,
        hdr.first_frame,
        hdr.n_frames,
        hdr.comp_len,
        hdr.raw_len,
        hdr.wall_min,
        hdr.wall_max,
        hdr.mono_min,
        hdr.mono_max,
    )


class _OpenSegment:
    def __init__(self, capture_dir: Path, shard: int, segment: int, first_frame: int) -> None:
        frames = capture_dir / segment_name(shard, segment, "frames")
        idx = capture_dir / segment_name(shard, segment, "idx")
        self.segment = segment
        self.frames = FileIO(frames, "xb")
        self.idx = FileIO(idx, "xb")
        _write_all(self.frames, pack_file_header(FRAMES_MAGIC, shard, segment, first_frame))
        _write_all(self.idx, pack_file_header(IDX_MAGIC, shard, segment, first_frame))
        self.size = FILE_HEADER.size
        self.idx_size = FILE_HEADER.size
        self.blocks = 0
        self.first_mono: int | None = None
        _fsync_dir(capture_dir)

    def close(self) -> None:
        self.frames.close()
        self.idx.close()


class SegmentSink:
    """Appends compressed blocks to one shard's segments (used by one thread at a time)."""

    def __init__(self, capture_dir: Path, shard: int, limits: SegmentLimits) -> None:
        capture_dir.mkdir(parents=True, exist_ok=True)
        repaired = repair_shard(capture_dir, shard)
        self.capture_dir = capture_dir
        self.shard = shard
        self.limits = limits
        self.next_frame = repaired.next_frame
        self.repair = repaired
        self.segments_opened = 0
        self._next_segment = repaired.next_segment
        self._seg: _OpenSegment | None = None

    def write_block(self, hdr: BlockHeader, body: bytes) -> int:
        """Append one block (its first_frame is assigned here); return bytes written."""
        seg = self._segment_for(hdr, len(body))
        hdr = _with_first_frame(hdr, self.next_frame)
        offset = seg.size
        try:
            _write_all(seg.frames, pack_block_header(hdr) + body)
        except OSError:
            _undo(seg.frames, offset)
            raise
        seg.size = offset + HDR + len(body)
        try:
            _write_all(seg.idx, pack_idx_entry(_entry(offset, hdr)))
            seg.idx_size += IDX_ENTRY.size
        except OSError:
            _undo(seg.idx, seg.idx_size)  # the block is kept; reopening rebuilds its idx entry
        seg.blocks += 1
        if seg.first_mono is None:
            seg.first_mono = hdr.mono_min
        self.next_frame += hdr.n_frames
        return HDR + len(body)

    def fsync(self) -> None:
        """Force the open segment's files to stable storage."""
        if self._seg is not None:
            os.fsync(self._seg.frames.fileno())
            os.fsync(self._seg.idx.fileno())

    def close(self) -> None:
        """Close the open segment."""
        if self._seg is not None:
            self._seg.close()
            self._seg = None

    def _segment_for(self, hdr: BlockHeader, comp_len: int) -> _OpenSegment:
        seg = self._seg
        if seg is not None and seg.blocks and self._full(seg, hdr, comp_len):
            seg.close()
            seg = None
        if seg is None:
            while self._taken(self._next_segment):
                self._next_segment += 1
            seg = _OpenSegment(self.capture_dir, self.shard, self._next_segment, self.next_frame)
            self._next_segment += 1
            self.segments_opened += 1
            self._seg = seg
        return seg

    def _taken(self, segment: int) -> bool:
        names = (segment_name(self.shard, segment, ext) for ext in ("frames", "idx"))
        return any((self.capture_dir / name).exists() for name in names)

    def _full(self, seg: _OpenSegment, hdr: BlockHeader, comp_len: int) -> bool:
        if seg.size + HDR + comp_len > self.limits.max_bytes:
            return True
        age_ns = hdr.mono_max - (seg.first_mono if seg.first_mono is not None else hdr.mono_min)
        return age_ns >= self.limits.max_s * 1e9


def _with_first_frame(hdr: BlockHeader, first_frame: int) -> BlockHeader:
    return BlockHeader(
        hdr.comp_len,
        hdr.raw_len,
        hdr.n_frames,
        first_frame,
        hdr.wall_min,
        hdr.wall_max,
        hdr.mono_min,
        hdr.mono_max,
        hdr.data_crc,
    )


def _write_all(f: FileIO, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = f.write(view)
        if not n:
            raise OSError("short write")
        view = view[n:]


def _undo(f: FileIO, offset: int) -> None:
    try:
        f.truncate(offset)
        f.seek(offset)
    except OSError:
        pass  # the next reopen truncates the torn tail instead


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
