"""Atomic file replacement: write a temp file in the same directory, fsync, rename, fsync the dir.

A reader sees either the old file or the new one, never a partial write, even if the writer is
killed mid-way. Temp files are named ``.<name>.tmp-<pid>-<hex>``: hidden (pyarrow datasets and
``*.parquet`` globs skip them) and traceable to the process that left them behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

log = logging.getLogger(__name__)

_TMP_RE = re.compile(r"^\..+\.tmp-(\d+)-[0-9a-f]+$")


def tmp_path_for(path: Path) -> Path:
    """Return a fresh temp path next to ``path`` that marks this process as its writer."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry change (a rename) to disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename is still atomic
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temp path to write; on success it replaces ``path`` atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_for(path)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (creating parent directories)."""
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_json(path: Path, obj: Any) -> None:
    """Replace ``path`` with ``obj`` encoded as JSON, atomically."""
    atomic_write_bytes(path, msgspec.json.encode(obj) + b"\n")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # EPERM: alive but another user's; anything else: keep the file
    return True


def cleanup_stale_tmp(directory: Path) -> int:
    """Remove temp files in ``directory`` left by processes that no longer run; return count."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return 0
    return _remove_stale(directory, names)


def cleanup_stale_tmp_tree(root: Path) -> int:
    """Remove stale temp files anywhere under ``root``; return how many."""
    return sum(_remove_stale(Path(d), names) for d, _, names in os.walk(root))


def _remove_stale(directory: Path, names: list[str]) -> int:
    removed = 0
    for name in names:
        match = _TMP_RE.match(name)
        if match is None:
            continue
        pid = int(match.group(1))
        # Our own pid may be writing right now from another thread; a live pid is another
        # writer (another shard on this box) that must not lose its file.
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            (directory / name).unlink()
            removed += 1
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot remove stale temp file %s: %s", directory / name, exc)
    return removed
