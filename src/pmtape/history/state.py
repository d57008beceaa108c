"""``history/cursor.json``: cursors, committed parts and the ledger, committed as one file.

One atomic file (temp + fsync + rename) holds everything a restart needs: per table and key
(a market for trades) where its feed goes on and what the last stored page's edge looked
like; the list of committed bronze parts with their sha256; and the ledger counters. It is
written only after the parts it lists are durable, so after a SIGKILL at any moment the
bronze files it lists hold exactly the rows its cursors have passed: no row twice, none lost.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import msgspec

from pmtape.core.errors import CaptureCorrupt, UsageError
from pmtape.history.bronze import CURSOR, remove_uncommitted
from pmtape.store.atomic import atomic_write_bytes, cleanup_stale_tmp_tree

STATE_VERSION = 1


class KeyCursor(msgspec.Struct, kw_only=True):
    """Where one key's feed goes on: the venue's cursor and the stored edge."""

    cursor: str | None = None
    done: bool = False
    """The feed answered its last page (or reached ``floor_s``)."""
    floor_s: int | None = None
    """Paging stopped at this ``--since`` floor rather than at the feed's end."""
    edge_ts: int | None = None
    """Oldest time stored so far (feeds run newest first)."""
    edge_keys: list[str] = msgspec.field(default_factory=list)
    """Natural keys stored at ``edge_ts``: a page repeating the edge drops exactly these."""


class DtCount(msgspec.Struct, array_like=True):
    """Rows of one key on one day, and their time span."""

    rows: int = 0
    first_ts: int | None = None
    last_ts: int | None = None


class Outcomes(msgspec.Struct, kw_only=True):
    """What the requests of one key came to; errors, refusals and bad pages are never empty."""

    requests: int = 0
    pages: int = 0
    empty: int = 0
    """Pages that were valid answers with no rows."""
    errors: int = 0
    """429, 5xx, timeouts, broken connections."""
    refusals: int = 0
    """4xx answers about the request itself."""
    malformed: int = 0
    """Bodies that were not a valid page (bad JSON, truncated, wrong-typed field)."""
    repeats: int = 0
    """Rows a page repeated from the previous one (dropped)."""

    def add(self, other: Outcomes) -> None:
        """Add another count to this one."""
        for name in self.__struct_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class KeyLedger(msgspec.Struct, kw_only=True):
    """The ledger of one key: request outcomes, and rows per day."""

    outcomes: Outcomes = msgspec.field(default_factory=Outcomes)
    dts: dict[str, DtCount] = msgspec.field(default_factory=dict)
    gave_up: bool = False
    """The last run stopped retrying this key (errors or bad pages past the attempt limit)."""


class HistoryState(msgspec.Struct, kw_only=True):
    """Everything ``cursor.json`` holds."""

    version: int = STATE_VERSION
    next_part: int = 1
    parts: dict[str, str] = msgspec.field(default_factory=dict)
    cursors: dict[str, dict[str, KeyCursor]] = msgspec.field(default_factory=dict)
    ledger: dict[str, dict[str, KeyLedger]] = msgspec.field(default_factory=dict)
    sources: dict[str, str] = msgspec.field(default_factory=dict)
    """Table -> the venue source it was fetched from (``polymarket.data_v2``)."""


_decode = msgspec.json.Decoder(HistoryState).decode
LOCK = ".lock"


def _lock(root: Path) -> int:
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UsageError(f"another backfill is writing {root} right now") from None
    return fd


def read_state(root: Path) -> HistoryState:
    """Return the committed state under ``root`` without touching any file (empty if none)."""
    path = root / CURSOR
    if not path.exists():
        return HistoryState()
    try:
        return _decode(path.read_bytes())
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CaptureCorrupt(f"{path} is damaged ({exc}); nothing was changed") from None


class CursorStore:
    """Load, reset and commit ``history/cursor.json`` under ``root`` (the history dir)."""

    def __init__(self, root: Path, state: HistoryState) -> None:
        self.root = root
        self.state = state
        self.removed_parts: list[str] = []
        self._lock_fd: int | None = None

    def close(self) -> None:
        """Release the history's lock (idempotent)."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    @classmethod
    def open(cls, root: Path) -> CursorStore:
        """Take the history's lock, load the committed state, drop what no commit covers.

        One run at a time writes a history dir: a second one gets a UsageError at once.
        The lock is released when the process ends (however it ends) or at ``close``.
        """
        root.mkdir(parents=True, exist_ok=True)
        lock = _lock(root)
        try:
            state = read_state(root)
        except BaseException:
            os.close(lock)
            raise
        cleanup_stale_tmp_tree(root)
        store = cls(root, state)
        store._lock_fd = lock
        store.removed_parts = remove_uncommitted(root, store.state.parts)
        return store

    def reset_table(self, table: str) -> list[str]:
        """Forget a table: its cursors, ledger and committed parts (files deleted); commit."""
        gone = [rel for rel in self.state.parts if rel.startswith(f"{table}/")]
        for rel in gone:
            del self.state.parts[rel]
        self.state.cursors.pop(table, None)
        self.state.ledger.pop(table, None)
        self.commit()
        for rel in gone:
            (self.root / rel).unlink(missing_ok=True)
        return gone

    def cursors(self, table: str) -> dict[str, KeyCursor]:
        """Return a table's cursors by key (a live view)."""
        return self.state.cursors.setdefault(table, {})

    def ledger(self, table: str) -> dict[str, KeyLedger]:
        """Return a table's ledger by key (a live view)."""
        return self.state.ledger.setdefault(table, {})

    def commit(self) -> None:
        """Write the state atomically and durably."""
        atomic_write_bytes(self.root / CURSOR, msgspec.json.encode(self.state) + b"\n")
