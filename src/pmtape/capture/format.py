"""The capture file format: file headers, block headers, idx entries, frame records, names.

Every multi-byte integer is little-endian. See docs/CAPTURE_FORMAT.md for the full layout.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import google_crc32c

from pmtape.core.errors import CaptureCorrupt
from pmtape.core.http import HttpMeta

__all__ = ["HttpMeta"]  # the frame record carries it; defined once in core

FORMAT_VERSION = 1
FRAMES_MAGIC = b"PMTAPEF1"
IDX_MAGIC = b"PMTAPEI1"
BLOCK_MAGIC = b"PMTB"

# magic, version, shard, segment, first_frame, reserved, header_crc
FILE_HEADER = struct.Struct("<8sHHIQII")
# magic, comp_len, raw_len, n_frames, first_frame, wall_min, wall_max, mono_min, mono_max,
# data_crc (of the compressed bytes), header_crc (of the 60 bytes before it)
BLOCK_HEADER = struct.Struct("<4sIIIQqqqqII")
# offset, first_frame, n_frames, comp_len, raw_len, wall_min, wall_max, mono_min, mono_max, crc
IDX_ENTRY = struct.Struct("<QQIIIqqqqI")
# kind, flags, stream_len, meta_len, payload_len, rx_wall_ns, rx_mono_ns
RECORD_HEAD = struct.Struct("<BBHIIqq")
U32 = struct.Struct("<I")

_SEGMENT_RE = re.compile(r"^shard_(\d{2,})(?:-(\d{4,}))?\.frames$")


def crc32c(data: bytes) -> int:
    """Return the CRC32C (Castagnoli) of ``data``."""
    return int(google_crc32c.value(data))


class FrameKind(IntEnum):
    """What a frame holds; the value is the byte stored on disk."""

    WS_TEXT = 1
    WS_BINARY = 2
    HTTP_RESPONSE = 3
    CONNECT = 4
    SUBSCRIBE = 5
    UNSUBSCRIBE = 6
    DISCONNECT = 7
    EVENT = 8

    @property
    def label(self) -> str:
        """Return the lower-case name used on the command line and in JSON."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> FrameKind:
        """Return the kind named ``text`` (``ws_text``, ``http_response``, ...)."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(k.label for k in cls)
            raise ValueError(f"unknown frame kind {text!r} (one of: {names})") from None


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame, as read back."""

    shard: int
    index: int
    kind: FrameKind
    stream: str
    rx_wall_ns: int
    rx_mono_ns: int
    payload: bytes
    http: HttpMeta | None = None


@dataclass(frozen=True, slots=True)
class FileHeader:
    """The 32-byte header at the start of every frames and idx file."""

    version: int
    shard: int
    segment: int
    first_frame: int


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """The 64-byte header in front of every compressed block."""

    comp_len: int
    raw_len: int
    n_frames: int
    first_frame: int
    wall_min: int
    wall_max: int
    mono_min: int
    mono_max: int
    data_crc: int

    @property
    def last_frame(self) -> int:
        """Return the number of the block's last frame."""
        return self.first_frame + self.n_frames - 1


@dataclass(frozen=True, slots=True)
class IdxEntry:
    """One 64-byte idx record: where a block is and what it holds."""

    offset: int
    first_frame: int
    n_frames: int
    comp_len: int
    raw_len: int
    wall_min: int
    wall_max: int
    mono_min: int
    mono_max: int

    def matches(self, offset: int, hdr: BlockHeader) -> bool:
        """Return True if this entry describes the block ``hdr`` found at ``offset``."""
        return (
            self.offset == offset
            and self.first_frame == hdr.first_frame
            and self.n_frames == hdr.n_frames
            and self.comp_len == hdr.comp_len
            and self.raw_len == hdr.raw_len
            and (self.wall_min, self.wall_max) == (hdr.wall_min, hdr.wall_max)
            and (self.mono_min, self.mono_max) == (hdr.mono_min, hdr.mono_max)
        )


def pack_file_header(magic: bytes, shard: int, segment: int, first_frame: int) -> bytes:
    """Return a 32-byte file header."""
    body = FILE_HEADER.pack(magic, FORMAT_VERSION, shard, segment, first_frame, 0, 0)[:-4]
    return body + U32.pack(crc32c(body))


def unpack_file_header(data: bytes, magic: bytes, name: str) -> FileHeader:
    """Parse a file header, raising CaptureCorrupt with a clear reason."""
    if len(data) < FILE_HEADER.size:
        raise CaptureCorrupt(f"{name}: too short for a pmtape capture file header")
    got_magic, version, shard, segment, first, _, crc = FILE_HEADER.unpack_from(data)
    if got_magic != magic:
        raise CaptureCorrupt(f"{name}: not a pmtape capture file (bad magic {got_magic[:8]!r})")
    if crc != crc32c(bytes(data[: FILE_HEADER.size - 4])):
        raise CaptureCorrupt(f"{name}: file header checksum mismatch")
    if version != FORMAT_VERSION:
        raise CaptureCorrupt(f"{name}: unsupported capture format version {version}")
    return FileHeader(version, shard, segment, first)


def pack_block_header(hdr: BlockHeader) -> bytes:
    """Return the 64-byte header of a block."""
    body = BLOCK_HEADER.pack(
        BLOCK_MAGIC,
        hdr.comp_len,
        hdr.raw_len,
        hdr.n_frames,
        hdr.first_frame,
        hdr.wall_min,
        hdr.wall_max,
        hdr.mono_min,
        hdr.mono_max,
        hdr.data_crc,
        0,
    )[:-4]
    return body + U32.pack(crc32c(body))


def unpack_block_header(data: bytes) -> BlockHeader | None:
    """Parse a 64-byte block header; None if the magic or its checksum is wrong."""
    if len(data) < BLOCK_HEADER.size or data[:4] != BLOCK_MAGIC:
        return None
    fields = BLOCK_HEADER.unpack_from(data)
    if fields[-1] != crc32c(bytes(data[: BLOCK_HEADER.size - 4])):
        return None
    return BlockHeader(*fields[1:-1])


def pack_idx_entry(entry: IdxEntry) -> bytes:
    """Return the 64-byte idx record of a block."""
    body = IDX_ENTRY.pack(
        entry.offset,
        entry.first_frame,
        entry.n_frames,
        entry.comp_len,
        entry.raw_len,
        entry.wall_min,
        entry.wall_max,
        entry.mono_min,
        entry.mono_max,
        0,
    )[:-4]
    return body + U32.pack(crc32c(body))


def unpack_idx_entry(data: bytes) -> IdxEntry | None:
    """Parse a 64-byte idx record; None if its checksum is wrong."""
    fields = IDX_ENTRY.unpack_from(data)
    if fields[-1] != crc32c(bytes(data[: IDX_ENTRY.size - 4])):
        return None
    return IdxEntry(*fields[:-1])


def decode_records(raw: bytes, hdr: BlockHeader, shard: int) -> list[Frame]:
    """Decode the frame records of a decompressed block, checking every frame's CRC."""
    frames: list[Frame] = []
    streams: dict[bytes, str] = {}
    pos, end, index = 0, len(raw), hdr.first_frame
    head_size, unpack, u32 = RECORD_HEAD.size, RECORD_HEAD.unpack_from, U32.unpack_from
    while pos < end:
        if end - pos < head_size + 4:
            raise RecordDamage(index, "record truncated inside its block")
        code, _flags, slen, mlen, plen, wall, mono = unpack(raw, pos)
        body_end = pos + head_size + slen + mlen + plen
        if body_end + 4 > end:
            raise RecordDamage(index, "record length runs past its block")
        if u32(raw, body_end)[0] != crc32c(raw[pos:body_end]):
            raise RecordDamage(index, "frame checksum mismatch")
        p = pos + head_size
        sid = raw[p : p + slen]
        stream = streams.get(sid)
        if stream is None:
            stream = streams[sid] = sid.decode("utf-8", "replace")
        p += slen
        http = HttpMeta.decode(raw[p : p + mlen]) if mlen else None
        p += mlen
        frames.append(
            Frame(shard, index, _kind(code, index), stream, wall, mono, raw[p : p + plen], http)
        )
        pos, index = body_end + 4, index + 1
    if len(frames) != hdr.n_frames:
        raise RecordDamage(index, f"block holds {len(frames)} frames, header says {hdr.n_frames}")
    return frames


_KINDS = {k.value: k for k in FrameKind}


def _kind(code: int, index: int) -> FrameKind:
    kind = _KINDS.get(code)
    if kind is None:
        raise RecordDamage(index, f"unknown frame kind {code}")
    return kind


class RecordDamage(Exception):
    """A frame record inside a block failed its checks (internal; callers see CaptureCorrupt)."""

    def __init__(self, frame: int, reason: str) -> None:
        super().__init__(reason)
        self.frame = frame
        self.reason = reason


def segment_name(shard: int, segment: int, ext: str) -> str:
    """Return the file name of a segment: shard_NN.EXT, then shard_NN-SSSS.EXT."""
    if segment == 0:
        return f"shard_{shard:02d}.{ext}"
    return f"shard_{shard:02d}-{segment:04d}.{ext}"


@dataclass(frozen=True, slots=True)
class SegmentPaths:
    """The frames and idx file of one segment of one shard."""

    shard: int
    segment: int
    frames: Path
    idx: Path


def list_segments(capture_dir: Path) -> dict[int, list[SegmentPaths]]:
    """Return the segments under ``capture_dir`` by shard, in segment order."""
    found: dict[int, list[SegmentPaths]] = {}
    for path in capture_dir.iterdir():
        m = _SEGMENT_RE.match(path.name)
        if m is None:
            continue
        shard, segment = int(m.group(1)), int(m.group(2) or 0)
        idx = path.with_name(segment_name(shard, segment, "idx"))
        found.setdefault(shard, []).append(SegmentPaths(shard, segment, path, idx))
    return {s: sorted(segs, key=lambda p: p.segment) for s, segs in sorted(found.items())}
