"""CaptureReader: frames of a shard or a whole bundle, merged in a deterministic order."""

from __future__ import annotations

import heapq
import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pmtape.capture.format import (
    FILE_HEADER,
    Frame,
    FrameKind,
    IdxEntry,
    RecordDamage,
    SegmentPaths,
    list_segments,
    unpack_block_header,
)
from pmtape.capture.losses import Found
from pmtape.capture.scan import (
    HDR,
    Block,
    BlockDecoder,
    Buf,
    Damage,
    Tail,
    damage_span,
    describe_blocks,
    entries_in,
    iter_blocks,
    mapped,
    read_frames_header,
    read_idx,
)
from pmtape.core.errors import CaptureCorrupt

merge_key = operator.attrgetter("rx_mono_ns", "shard", "index")


@dataclass(frozen=True, slots=True)
class FrameFilter:
    """Which frames to return; time bounds are inclusive from, exclusive to."""

    kinds: frozenset[FrameKind] | None = None
    streams: frozenset[str] | None = None
    wall_from_ns: int | None = None
    wall_to_ns: int | None = None
    mono_from_ns: int | None = None
    mono_to_ns: int | None = None

    def may_match(self, wall_min: int, wall_max: int, mono_min: int, mono_max: int) -> bool:
        """Return False if no frame of a block with these time bounds can match."""
        return not (
            (self.wall_from_ns is not None and wall_max < self.wall_from_ns)
            or (self.wall_to_ns is not None and wall_min >= self.wall_to_ns)
            or (self.mono_from_ns is not None and mono_max < self.mono_from_ns)
            or (self.mono_to_ns is not None and mono_min >= self.mono_to_ns)
        )

    def matches(self, f: Frame) -> bool:
        """Return True if the frame passes every condition."""
        return (
            (self.kinds is None or f.kind in self.kinds)
            and (self.streams is None or f.stream in self.streams)
            and self.may_match(f.rx_wall_ns, f.rx_wall_ns, f.rx_mono_ns, f.rx_mono_ns)
        )


@dataclass(frozen=True, slots=True)
class DamageNote:
    """A damaged range skipped by a non-strict reader."""

    file: str
    offset: int
    reason: str
    frames: tuple[int, int] | None

    def __str__(self) -> str:
        where = f"frames {self.frames[0]}-{self.frames[1]}" if self.frames else "frames unknown"
        return f"{self.file}: {self.reason} at offset {self.offset} ({where})"


def find_capture_dir(path: Path) -> Path:
    """Return the directory holding shard files: ``path/capture`` or ``path`` itself."""
    if (path / "capture").is_dir():
        return path / "capture"
    if path.is_dir() and (any(path.glob("shard_*.frames")) or not any(path.iterdir())):
        return path
    raise CaptureCorrupt(f"{path} holds no capture (no capture/shard_NN.frames files)")


class CaptureReader:
    """Read frames back; ``strict`` raises on damage, otherwise damage is skipped and noted."""

    def __init__(self, path: Path, *, strict: bool = True) -> None:
        self.capture_dir = find_capture_dir(Path(path))
        self.segments: dict[int, list[SegmentPaths]] = list_segments(self.capture_dir)
        self.strict = strict
        self.damage: list[DamageNote] = []
        self.torn_tail_bytes = 0
        self.found: dict[int, Found] = {s: Found(files=True) for s in self.segments}

    @property
    def shards(self) -> list[int]:
        """Return the shard numbers present."""
        return list(self.segments)

    def frames(
        self, flt: FrameFilter | None = None, shards: Iterable[int] | None = None
    ) -> Iterator[Frame]:
        """Yield frames of the chosen shards merged by (rx_mono_ns, shard, frame index)."""
        chosen = self.shards if shards is None else [s for s in shards if s in self.segments]
        its = [self.shard_frames(s, flt) for s in chosen]
        if len(its) == 1:
            yield from its[0]
        else:
            yield from heapq.merge(*its, key=merge_key)

    def shard_frames(self, shard: int, flt: FrameFilter | None = None) -> Iterator[Frame]:
        """Yield one shard's frames in frame order."""
        for seg in self.segments.get(shard, []):
            yield from self._segment_frames(seg, flt)

    def _segment_frames(self, seg: SegmentPaths, flt: FrameFilter | None) -> Iterator[Frame]:
        decoder = BlockDecoder()
        entries = read_idx(seg.idx).entries
        with mapped(seg.frames) as buf:
            try:
                head = read_frames_header(buf, seg.frames.name)
            except CaptureCorrupt as exc:
                self._note(seg, 0, str(exc), None)
                return
            if head is None:
                self.torn_tail_bytes += len(buf)
                self._missing_after(seg, entries, 0, 0)
                return
            start = _seek(buf, seg, flt)
            expected: int | None = head.first_frame if start == FILE_HEADER.size else None
            valid_end = len(buf)
            for item in iter_blocks(buf, start):
                if isinstance(item, Block):
                    h = item.header
                    if expected is not None and h.first_frame > expected:
                        self._missing(seg, entries, item.offset, expected, h.first_frame - 1)
                    expected = h.first_frame + h.n_frames
                    yield from self._block_frames(seg, item, decoder, flt)
                elif isinstance(item, Damage):
                    span = damage_span(item, entries)
                    expected = None if span is None else span[1] + 1
                    self._note(seg, item.offset, item.reason, span)
                elif isinstance(item, Tail):
                    self.torn_tail_bytes += item.nbytes
                    valid_end = item.offset
            if expected is not None:
                self._missing_after(seg, entries, expected, valid_end)

    def _missing(
        self, seg: SegmentPaths, entries: list[IdxEntry], offset: int, first: int, last: int
    ) -> None:
        gap = entries_in(entries, first, last)
        what = describe_blocks(gap) if gap else "no idx entry describes them"
        self._note(seg, offset, f"frames missing before this block ({what})", (first, last))

    def _missing_after(
        self, seg: SegmentPaths, entries: list[IdxEntry], expected: int, valid_end: int
    ) -> None:
        """Note blocks the idx says were written past the last one found (never a crash's)."""
        lost = [(i, e) for i, e in enumerate(entries) if e.first_frame >= expected]
        if lost:
            last = lost[-1][1].first_frame + lost[-1][1].n_frames - 1
            what = f"{describe_blocks(lost)} missing: the idx points past the end"
            self._note(seg, valid_end, what, (lost[0][1].first_frame, last))

    def _block_frames(
        self, seg: SegmentPaths, block: Block, decoder: BlockDecoder, flt: FrameFilter | None
    ) -> Iterator[Frame]:
        h = block.header
        if flt is not None and not flt.may_match(h.wall_min, h.wall_max, h.mono_min, h.mono_max):
            return
        try:
            frames = decoder.frames(block, seg.shard)
        except RecordDamage as exc:
            self._note(
                seg, block.offset, f"frame {exc.frame}: {exc.reason}", (exc.frame, exc.frame)
            )
            return
        found = self.found[seg.shard]
        found.frames += h.n_frames
        found.blocks += 1
        found.next_frame = h.first_frame + h.n_frames
        if flt is None:
            yield from frames
        else:
            yield from (f for f in frames if flt.matches(f))

    def _note(
        self, seg: SegmentPaths, offset: int, reason: str, frames: tuple[int, int] | None
    ) -> None:
        where = f"frames {frames[0]}-{frames[1]}" if frames else "frames unknown"
        if self.strict:
            raise CaptureCorrupt(f"{seg.frames}: {reason} at offset {offset} ({where})")
        self.damage.append(DamageNote(str(seg.frames), offset, reason, frames))


def _seek(buf: Buf, seg: SegmentPaths, flt: FrameFilter | None) -> int:
    """Return where to start scanning: skip indexed blocks that cannot match the filter."""
    if flt is None or (flt.wall_from_ns is None and flt.mono_from_ns is None):
        return FILE_HEADER.size
    entries = read_idx(seg.idx).entries
    for e in entries:
        if flt.may_match(e.wall_min, e.wall_max, e.mono_min, e.mono_max):
            return e.offset if _entry_ok(buf, e) else FILE_HEADER.size
    if entries and _entry_ok(buf, entries[-1]):
        return entries[-1].offset + HDR + entries[-1].comp_len
    return FILE_HEADER.size


def _entry_ok(buf: Buf, e: IdxEntry) -> bool:
    hdr = unpack_block_header(buf[e.offset : e.offset + HDR])
    return hdr is not None and e.matches(e.offset, hdr)
