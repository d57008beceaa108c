"""verify: check every block and frame checksum, idx consistency and frame numbering of a bundle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pmtape.capture.bundle import RunBundle
from pmtape.capture.format import IdxEntry, RecordDamage, SegmentPaths, list_segments
from pmtape.capture.losses import Found, recorded_counts, shortfalls, stopped_cleanly
from pmtape.capture.scan import (
    Block,
    BlockDecoder,
    Damage,
    IdxRead,
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
    missing_blocks: int = 0
    missing_frames: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class VerifyResult:
    """The outcome of verify over a whole bundle."""

    run_dir: str
    ok: bool
    totals: dict[str, int]
    first_error: str | None
    errors: list[str]
    segments: list[SegmentCheck]
    notes: list[str] = field(default_factory=list)
    stopped_cleanly: bool = False

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
    "missing_blocks",
    "missing_frames",
)


def verify_bundle(run_dir: Path) -> VerifyResult:
    """Verify a run bundle's manifest, every frame of every shard, and that none is missing.

    Fails on any damage and on any loss of frames recorded as written (the stop record, or a
    crashed run's last metrics, or the idx). A torn tail after a crash is named in ``notes``.
    """
    bundle = RunBundle.open(run_dir)
    clean = stopped_cleanly(bundle)
    checks: list[SegmentCheck] = []
    errors: list[str] = []
    found: dict[int, Found] = {}
    if not bundle.capture_dir.is_dir():
        errors.append(f"{bundle.capture_dir}: capture directory missing")
    else:
        for shard, segs in list_segments(bundle.capture_dir).items():
            shard_checks = _verify_shard(shard, segs, errors, clean)
            checks.extend(shard_checks)
            found[shard] = _found(shard_checks)
    for c in checks:
        errors.extend(c.errors)
    short = shortfalls(recorded_counts(bundle), found)
    errors.extend(short)
    totals = {k: sum(getattr(c, k) for c in checks) for k in _TOTAL_KEYS}
    totals.update(
        shards=len({c.shard for c in checks}),
        segments=len(checks),
        errors=len(errors),
        shortfalls=len(short),
    )
    notes = [n for c in checks for n in c.notes]
    first = errors[0] if errors else None
    return VerifyResult(
        str(run_dir), not errors, totals, first, errors[:MAX_ERRORS], checks, notes, clean
    )


def _found(checks: list[SegmentCheck]) -> Found:
    last = max((c.last_frame for c in checks if c.last_frame is not None), default=None)
    return Found(
        frames=sum(c.frames for c in checks),
        blocks=sum(c.blocks for c in checks),
        next_frame=None if last is None else last + 1,
        files=True,
    )


def _verify_shard(
    shard: int, segs: list[SegmentPaths], errors: list[str], clean: bool
) -> list[SegmentCheck]:
    checks = []
    expected: int | None = 0
    for want, seg in enumerate(segs):
        if seg.segment != want:
            errors.append(f"shard {shard:02d}: segment {want} missing (found {seg.segment} next)")
            expected = None
        # Only a crash can tear a file, and only the last segment: a writer never appends
        # to an old one, and a cleanly stopped run's writers closed every file.
        why_not = None if not clean and seg is segs[-1] else _why_not_torn(clean)
        check, expected = _verify_segment(seg, expected, why_not)
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
        self.by_first = {e.first_frame: i for i, e in enumerate(idx.entries)}
        self.accounted: set[int] = set()  # idx entries matched to a block or a named loss
        self.idx_mismatches = 0

    def error(self, msg: str) -> None:
        if len(self.check.errors) < MAX_ERRORS:
            self.check.errors.append(f"shard {self.seg.shard:02d} {self.seg.frames.name}: {msg}")

    def note(self, msg: str) -> None:
        self.check.notes.append(f"shard {self.seg.shard:02d} {self.seg.frames.name}: {msg}")

    def block(self, b: Block) -> None:
        h, c = b.header, self.check
        where = (
            f"block {self.block_no} at offset {b.offset} (frames {h.first_frame}-{h.last_frame})"
        )
        self.number(h.first_frame, where)
        self._idx(where, h.first_frame, lambda e: e.matches(b.offset, h))
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
        self.error(
            f"block {self.block_no} at offset {d.offset}: {d.reason} "
            f"(bytes {d.offset}-{d.end - 1}, {frames})"
        )
        covered = [i for i, e in enumerate(self.idx.entries) if d.offset <= e.offset < d.end]
        self.accounted.update(covered)
        if span is not None:
            self.accounted.update(i for i, _ in entries_in(self.idx.entries, *span))
        self.block_no += max(1, len(covered))
        self.expected = span[1] + 1 if span else None

    def number(self, first: int, where: str) -> None:
        if self.expected is None or first == self.expected:
            return
        self.check.numbering_errors += 1
        if first < self.expected:
            self.error(f"{where}: expected first frame {self.expected}")
            return
        gap = entries_in(self.idx.entries, self.expected, first - 1)
        self.accounted.update(i for i, _ in gap)
        self.check.missing_frames += first - self.expected
        self.check.missing_blocks += len(gap)
        lost = describe_blocks(gap) if gap else "no idx entry describes them"
        self.error(f"frames {self.expected}-{first - 1} missing before {where}: {lost}")

    def _idx(self, where: str, first: int, ok: Callable[[IdxEntry], bool]) -> None:
        i = self.by_first.get(first)
        if i is None:
            self.check.unindexed_blocks += 1
            return
        self.accounted.add(i)
        if not ok(self.idx.entries[i]):
            self.check.idx_mismatch += 1
            self.idx_mismatches += 1
            if self.idx_mismatches == 1:  # one shift (a block cut out) moves every later one
                self.error(f"{where}: idx entry {i} does not match the block")

    def finish(self, valid_end: int) -> None:
        idx = self.idx
        if self.idx_mismatches > 1:
            self.error(f"{self.idx_mismatches - 1} more idx entries do not match their blocks")
        if idx.header_error is not None:
            self.check.idx_mismatch += 1
            self.error(idx.header_error)
        if not idx.has_header and idx.header_error is None and self.check.blocks:
            self.check.idx_mismatch += 1
            self.error(f"{self.seg.idx.name} is missing or has no header")
        if idx.bad_entry is not None:
            self.check.idx_mismatch += 1
            self.error(f"idx entry {idx.bad_entry}: checksum mismatch")
        lost = [(i, e) for i, e in enumerate(idx.entries) if i not in self.accounted]
        if not lost:
            return
        # The writer adds an idx entry only after its block was written: these blocks had
        # reached the file (they survive a killed process), so their loss is never a crash's.
        self.check.missing_blocks += len(lost)
        self.check.missing_frames += sum(e.n_frames for _, e in lost)
        end = max(e.first_frame + e.n_frames for _, e in lost)
        if self.expected is not None:  # the next segment carries on after the lost frames
            self.expected = max(self.expected, end)
        if all(e.offset >= valid_end for _, e in lost):
            self.check.idx_past_end = len(lost)
            where = f"the last complete block ends at byte {valid_end}"
            self.error(f"{describe_blocks(lost)} missing: the idx points past the end ({where})")
        else:
            self.check.idx_mismatch += 1
            self.error(f"{describe_blocks(lost)} missing: in the idx, not in the file")


def _why_not_torn(clean: bool) -> str:
    if clean:
        return "the run was stopped cleanly, so no block was being written"
    return "not the shard's last segment, so no block was being written"


def _verify_segment(
    seg: SegmentPaths, expected: int | None, why_not_torn: str | None
) -> tuple[SegmentCheck, int | None]:
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
            _torn(v, f"file is {len(buf)} bytes, no file header", why_not_torn)
            v.finish(0)
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
                torn = f"torn tail: {item.nbytes} bytes at offset {item.offset}"
                _torn(v, torn, why_not_torn)
    v.finish(valid_end)
    return v.check, v.expected


def _torn(v: _SegmentVerifier, what: str, why_not: str | None) -> None:
    if why_not is None:
        v.note(f"{what}: the block being written when the run crashed (skipped)")
    else:
        v.error(f"{what}, but {why_not}")
