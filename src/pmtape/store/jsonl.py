"""Append-only JSON Lines logs (universe, markets): one msgspec-encoded object a line.

A crash can leave the last line torn. On open the writer starts a fresh line if the file does not
end with a newline, so later records stay readable; ``iter_jsonl`` skips lines that do not decode
and counts them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, TypeVar

import msgspec

log = logging.getLogger(__name__)

T = TypeVar("T")


def _ends_without_newline(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except FileNotFoundError:
        return False


class JsonlWriter:
    """Append objects to a JSONL file; every ``write_many`` call is one write of whole lines."""

    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        self.path = path
        self._fsync = fsync
        self._encoder = msgspec.json.Encoder()
        path.parent.mkdir(parents=True, exist_ok=True)
        torn = _ends_without_newline(path)
        self._file: BinaryIO | None = path.open("ab")
        if torn:
            self._file.write(b"\n")
        self.lines_written = 0

    def write(self, obj: Any) -> None:
        """Append one object as one line."""
        self.write_many((obj,))

    def write_many(self, objs: Iterable[Any]) -> None:
        """Append several objects, one line each, in a single write."""
        if self._file is None:
            raise ValueError(f"{self.path} is closed")
        buf = bytearray()
        count = 0
        for obj in objs:
            self._encoder.encode_into(obj, buf, len(buf))
            buf += b"\n"
            count += 1
        if not buf:
            return
        self._file.write(buf)
        self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())
        self.lines_written += count

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def append_jsonl(path: Path, objs: Iterable[Any], *, fsync: bool = False) -> int:
    """Append objects to ``path`` as JSON lines; return how many were written."""
    with JsonlWriter(path, fsync=fsync) as writer:
        writer.write_many(objs)
        return writer.lines_written


def iter_jsonl(path: Path, type_: type[T] | Any = Any) -> Iterator[T]:
    """Yield each decodable line of ``path`` as ``type_``; undecodable lines are logged, skipped."""
    decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(type_)
    bad = 0
    with path.open("rb") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                yield decoder.decode(line)
            except msgspec.DecodeError:
                bad += 1
    if bad:
        log.warning("%s: skipped %d undecodable line(s)", path, bad)
