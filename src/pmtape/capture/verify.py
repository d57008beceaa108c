"""verify: check every block and frame checksum, idx consistency and frame numbering of a bundle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from pmtape.capture.bundle import RunBundle
from pmtape.capture.format import IdxEntry, RecordDamage, SegmentPaths, list_segments
from pmtape.capture.scan import (
    HDR,
    Block,
    BlockDecoder,
    Damage,
    IdxRead,
    Tail,
    damage_span,
    iter_blocks,
    mapped,
    read_frames_header,
    read_idx,
)
from pmtape.core.errors import CaptureCorrupt

MAX_ERRORS = 100


@dataclass(slots=True)
class SegmentCheck:
    """What verify found in one segment (frames file plus idx)."""

    file: str
    shard: int
    segment: int
    blocks: int = 0
    frames: int = 0
    first_frame: int | None = None
    last_frame: int | None = None
    payload_bytes: int = 0
    disk_bytes: int = 0
    crc_mismatch: int = 0
    idx_mismatch: int = 0
    numbering_errors: int = 0
    unindexed_blocks: int = 0
    idx_past_end: int = 0
    torn_tail_bytes: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class VerifyResult:
    """The outcome of verify over a whole bundle."""

    run_dir: str
    ok: bool
    totals: dict[str, int]
    first_error: str | None
    errors: list[str]
    segments: list[SegmentCheck]

    def to_dict(self, summary_only: bool = False) -> dict[str, Any]:
        """Return a JSON-ready dict (without per-segment detail if ``summary_only``)."""
        out = asdict(self)
        if summary_only:
            out.pop("segments")
        return out


_TOTAL_KEYS = (
    "blocks",
    "frames",
    "payload_bytes",
    "disk_bytes",
    "crc_mismatch",
    "idx_mismatch",
    "numbering_errors",
    "unindexed_blocks",
    "idx_past_end",
    "torn_tail_bytes",
)


def verify_bundle(run_dir: Path) -> VerifyResult:
    """Verify a run bundle's manifest and every frame of every shard."""
    bundle = RunBundle.open(run_dir)
    checks: list[SegmentCheck] = []
    errors: list[str] = []
    if not bundle.capture_dir.is_dir():
        errors.append(f"{bundle.capture_dir}: capture directory missing")
    else:
        for shard, segs in list_segments(bundle.capture_dir).items():
            checks.extend(_verify_shard(shard, segs, errors))
    for c in checks:
        errors.extend(c.errors)
    totals = {k: sum(getattr(c, k) for c in checks) for k in _TOTAL_KEYS}
    totals.update(shards=len({c.shard for c in checks}), segments=len(checks), errors=len(errors))
    return VerifyResult(
        str(run_dir), not errors, totals, errors[0] if errors else None, errors[:MAX_ERRORS], checks
    )


def _verify_shard(shard: int, segs: list[SegmentPaths], errors: list[str]) -> list[SegmentCheck]:
    checks = []
    expected: int | None = 0
    for want, seg in enumerate(segs):
        if seg.segment != want:
            errors.append(f"shard {shard:02d}: segment {want} missing (found {seg.segment} next)")
            expected = None
        check, expected = _verify_segment(seg, expected)
        checks.append(check)
    return checks


class _SegmentVerifier:
    def __init__(self, seg: SegmentPaths, idx: IdxRead, expected: int | None) -> None:
        self.seg = seg
        self.idx = idx
        self.expected = expected
        self.check = SegmentCheck(seg.frames.name, seg.shard, seg.segment)
        self.decoder = BlockDecoder()
        self.block_no = 0

    def error(self, msg: str) -> None:
        if len(self.check.errors) < MAX_ERRORS:
            self.check.errors.append(f"shard {self.seg.shard:02d} {self.seg.frames.name}: {msg}")

    def block(self, b: Block) -> None:
        h, c = b.header, self.check
        where = (
            f"block {self.block_no} at offset {b.offset} (frames {h.first_frame}-{h.last_frame})"
        )
        self.number(h.first_frame, where)
        self._idx(where, lambda e: e.matches(b.offset, h))
        try:
            frames = self.decoder.frames(b, self.seg.shard)
        except RecordDamage as exc:
            c.crc_mismatch += 1
            self.error(f"{where}: frame {exc.frame}: {exc.reason}")
        else:
            c.payload_bytes += sum(len(f.payload) for f in frames)
        c.blocks += 1
        c.frames += h.n_frames
        c.first_frame = h.first_frame if c.first_frame is None else c.first_frame
        c.last_frame = h.last_frame
        self.expected = h.first_frame + h.n_frames
        self.block_no += 1

    def damage(self, d: Damage) -> None:
        self.check.crc_mismatch += 1
        span = damage_span(d, self.idx.entries)
        frames = f"frames {span[0]}-{span[1]}" if span else "frames unknown"
        self.error(f"block {self.block_no} at offset {d.offset}: {d.reason} ({frames})")
        covered = [e for e in self.idx.entries if d.offset <= e.offset < d.end]
        self.block_no += max(1, len(covered))
        self.expected = span[1] + 1 if span else None

    def number(self, first: int, where: str) -> None:
        if self.expected is not None and first != self.expected:
            self.check.numbering_errors += 1
            self.error(f"{where}: expected first frame {self.expected}")

    def _idx(self, where: str, ok: Callable[[IdxEntry], bool]) -> None:
        entries = self.idx.entries
        if self.block_no >= len(entries):
            self.check.unindexed_blocks += 1
        elif not ok(entries[self.block_no]):
            self.check.idx_mismatch += 1
            self.error(f"{where}: idx entry {self.block_no} does not match the block")

    def finish(self, valid_end: int) -> None:
        idx = self.idx
        if idx.header_error is not None:
            self.check.idx_mismatch += 1
            self.error(idx.header_error)
        if not idx.has_header and idx.header_error is None and self.check.blocks:
            self.check.idx_mismatch += 1
            self.error(f"{self.seg.idx.name} is missing or has no header")
        if idx.bad_entry is not None:
            self.check.idx_mismatch += 1
            self.error(f"idx entry {idx.bad_entry}: checksum mismatch")
        extra = idx.entries[self.block_no :]
        if not extra:
            return
        if _lost_tail(extra, valid_end):
            self.check.idx_past_end = len(extra)  # blocks a crash kept from reaching the disk
        else:
            self.check.idx_mismatch += 1
            self.error(f"idx has {len(extra)} entries past the last block")


def _lost_tail(entries: list[IdxEntry], valid_end: int) -> bool:
    if entries[0].offset != valid_end:
        return False
    return all(b.offset == a.offset + HDR + a.comp_len for a, b in pairwise(entries))


def _verify_segment(seg: SegmentPaths, expected: int | None) -> tuple[SegmentCheck, int | None]:
    v = _SegmentVerifier(seg, read_idx(seg.idx), expected)
    v.check.disk_bytes = seg.frames.stat().st_size + (
        seg.idx.stat().st_size if seg.idx.exists() else 0
    )
    with mapped(seg.frames) as buf:
        try:
            head = read_frames_header(buf, seg.frames.name)
        except CaptureCorrupt as exc:
            v.check.crc_mismatch += 1
            v.error(str(exc))
            return v.check, None
        if head is None:
            v.check.torn_tail_bytes = len(buf)
            return v.check, expected
        if (head.shard, head.segment) != (seg.shard, seg.segment):
            v.error(f"header says shard {head.shard} segment {head.segment}")
        v.number(head.first_frame, "file header")
        v.expected = head.first_frame
        valid_end = len(buf)
        for item in iter_blocks(buf):
            if isinstance(item, Block):
                v.block(item)
            elif isinstance(item, Damage):
                v.damage(item)
            elif isinstance(item, Tail):
                v.check.torn_tail_bytes, valid_end = item.nbytes, item.offset
    v.finish(valid_end)
    return v.check, v.expected
