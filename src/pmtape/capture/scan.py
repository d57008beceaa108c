"""Walk the blocks of a segment, resyncing after damage and telling a torn tail from corruption."""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import zstandard

from pmtape.capture.format import (
    BLOCK_HEADER,
    BLOCK_MAGIC,
    FILE_HEADER,
    FRAMES_MAGIC,
    IDX_ENTRY,
    IDX_MAGIC,
    BlockHeader,
    FileHeader,
    Frame,
    IdxEntry,
    RecordDamage,
    crc32c,
    decode_records,
    unpack_block_header,
    unpack_file_header,
    unpack_idx_entry,
)
from pmtape.core.errors import CaptureCorrupt

HDR = BLOCK_HEADER.size


@dataclass(frozen=True, slots=True)
class Block:
    """A block whose header and compressed bytes passed their checksums."""

    offset: int
    header: BlockHeader
    body: bytes

    @property
    def end(self) -> int:
        """Return the file offset just past this block."""
        return self.offset + HDR + self.header.comp_len


@dataclass(frozen=True, slots=True)
class Damage:
    """A byte range that is not a valid block; ``header`` is set if only the data is bad."""

    offset: int
    end: int
    reason: str
    header: BlockHeader | None = None


@dataclass(frozen=True, slots=True)
class Tail:
    """An incomplete last block left by a crash; ignored by readers, truncated by writers."""

    offset: int
    nbytes: int


ScanItem = Block | Damage | Tail
Buf = bytes | mmap.mmap


@contextmanager
def mapped(path: Path) -> Iterator[Buf]:
    """Map a file read-only (an empty file maps to b"")."""
    with path.open("rb") as f:
        size = f.seek(0, 2)
        if size == 0:
            yield b""
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            yield mm


def read_frames_header(buf: Buf, name: str) -> FileHeader | None:
    """Parse a frames file header; None if the file is a torn prefix of one."""
    if len(buf) < FILE_HEADER.size and FRAMES_MAGIC.startswith(bytes(buf[:8])):
        return None
    return unpack_file_header(buf[: FILE_HEADER.size], FRAMES_MAGIC, name)


def iter_blocks(buf: Buf, pos: int = FILE_HEADER.size) -> Iterator[ScanItem]:
    """Yield every block, damaged range and torn tail of a frames file from ``pos``."""
    n = len(buf)
    while pos < n:
        if n - pos < HDR:
            yield _short_tail(buf, pos)
            return
        hdr = unpack_block_header(buf[pos : pos + HDR])
        if hdr is None:
            nxt = _next_header(buf, pos + 1)
            if nxt is None and _all_zero(buf, pos):
                yield Tail(pos, n - pos)
                return
            end = n if nxt is None else nxt
            yield Damage(pos, end, "bad block header")
            pos = end
            continue
        end = pos + HDR + hdr.comp_len
        if end > n:
            yield Tail(pos, n - pos)
            return
        body = bytes(buf[pos + HDR : end])
        if crc32c(body) != hdr.data_crc:
            yield Damage(pos, end, "block checksum mismatch", hdr)
        else:
            yield Block(pos, hdr, body)
        pos = end


def _short_tail(buf: Buf, pos: int) -> ScanItem:
    rest = bytes(buf[pos:])
    if BLOCK_MAGIC.startswith(rest[:4]) or not rest.strip(b"\x00"):
        return Tail(pos, len(rest))
    return Damage(pos, len(buf), "trailing bytes are not a block")


def _all_zero(buf: Buf, pos: int) -> bool:
    return not bytes(buf[pos:]).strip(b"\x00")


def _next_header(buf: Buf, start: int) -> int | None:
    n = len(buf)
    while True:
        i = buf.find(BLOCK_MAGIC, start)
        if i < 0:
            return None
        if i + HDR > n or unpack_block_header(buf[i : i + HDR]) is not None:
            return i
        start = i + 1


def damage_span(d: Damage, entries: list[IdxEntry]) -> tuple[int, int] | None:
    """Return the frame numbers a damaged range held, from its header or else from the idx."""
    if d.header is not None:
        return d.header.first_frame, d.header.last_frame
    covered = [e for e in entries if d.offset <= e.offset < d.end]
    if not covered:
        return None
    return covered[0].first_frame, covered[-1].first_frame + covered[-1].n_frames - 1


class BlockDecoder:
    """Decompress and decode blocks (one zstd context; not thread-safe)."""

    def __init__(self) -> None:
        self._dctx = zstandard.ZstdDecompressor()

    def raw(self, block: Block) -> bytes:
        """Return the decompressed records of a block, raising RecordDamage if unusable."""
        try:
            raw = self._dctx.decompress(block.body, max_output_size=block.header.raw_len)
        except zstandard.ZstdError as exc:
            raise RecordDamage(block.header.first_frame, f"zstd: {exc}") from None
        if len(raw) != block.header.raw_len:
            raise RecordDamage(block.header.first_frame, "decompressed size mismatch")
        return raw

    def frames(self, block: Block, shard: int) -> list[Frame]:
        """Return the frames of a block, raising RecordDamage on the first bad one."""
        return decode_records(self.raw(block), block.header, shard)


@dataclass(frozen=True, slots=True)
class IdxRead:
    """The usable entries of an idx file and what was wrong with the rest."""

    entries: list[IdxEntry]
    has_header: bool
    torn_bytes: int = 0
    bad_entry: int | None = None
    header_error: str | None = None


def read_idx(path: Path) -> IdxRead:
    """Read an idx file: valid entries up to the first bad one, a torn partial entry ignored."""
    if not path.exists():
        return IdxRead([], has_header=False)
    data = path.read_bytes()
    if len(data) < FILE_HEADER.size and IDX_MAGIC.startswith(data[:8]):
        return IdxRead([], has_header=False, torn_bytes=len(data))
    try:
        unpack_file_header(data, IDX_MAGIC, path.name)
    except CaptureCorrupt as exc:
        return IdxRead([], has_header=False, header_error=str(exc))
    body = data[FILE_HEADER.size :]
    whole = len(body) // IDX_ENTRY.size
    entries: list[IdxEntry] = []
    for i in range(whole):
        entry = unpack_idx_entry(body[i * IDX_ENTRY.size : (i + 1) * IDX_ENTRY.size])
        if entry is None:
            return IdxRead(entries, True, bad_entry=i)
        entries.append(entry)
    return IdxRead(entries, True, torn_bytes=len(body) - whole * IDX_ENTRY.size)


def describe_blocks(numbered: list[tuple[int, IdxEntry]]) -> str:
    """Name idx-described blocks (block number, entry): numbers, byte range and frames."""
    (i0, e0), (i1, e1) = numbered[0], numbered[-1]
    blocks = f"block {i0}" if i0 == i1 else f"{len(numbered)} blocks ({i0}-{i1})"
    last_byte = e1.offset + HDR + e1.comp_len - 1
    frames = f"{e0.first_frame}-{e1.first_frame + e1.n_frames - 1}"
    return f"{blocks}, bytes {e0.offset}-{last_byte}, frames {frames}"


def entries_in(entries: list[IdxEntry], first: int, last: int) -> list[tuple[int, IdxEntry]]:
    """Return the numbered idx entries whose blocks hold frames ``first``..``last``."""
    return [
        (i, e)
        for i, e in enumerate(entries)
        if e.first_frame <= last and e.first_frame + e.n_frames - 1 >= first
    ]
