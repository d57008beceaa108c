"""The active-instruments snapshot: discovery writes it atomically, collectors poll it.

``state/venue=V/active_instruments.snapshot.json``::

    {"asof_ts_utc": "...", "venue": V, "count": N, "instruments": {instrument_key: Instrument}}

A reader keeps the last good set whenever the file is missing, unreadable or corrupt, and
logs each kind of problem once until a good file is loaded again. Only the reader that follows
the file logs; a one-off look (the run manifest's) is ``quiet``, so a collect run says it once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import msgspec

from pmtape.core.clock import iso_utc
from pmtape.core.instrument import Instrument
from pmtape.store.atomic import atomic_write_bytes

_log = logging.getLogger(__name__)

ACTIVE_SNAPSHOT_FILE = "active_instruments.snapshot.json"


class ActiveSnapshot(msgspec.Struct, kw_only=True):
    """The decoded snapshot file."""

    asof_ts_utc: str
    venue: str
    count: int
    instruments: dict[str, Instrument]


_DECODER = msgspec.json.Decoder(ActiveSnapshot)
_ENCODER = msgspec.json.Encoder()


def active_snapshot_path(data_dir: Path, venue: str) -> Path:
    """Return where a venue's active snapshot lives."""
    return data_dir / "state" / f"venue={venue}" / ACTIVE_SNAPSHOT_FILE


def write_active_snapshot(
    path: Path, venue: str, instruments: Iterable[Instrument], asof_ms: int
) -> None:
    """Write a venue's active instruments atomically (temp file, fsync, rename)."""
    by_key: dict[str, Instrument] = {}
    for inst in sorted(instruments, key=lambda i: i.instrument_key):
        if inst.venue != venue:
            raise ValueError(f"{inst.instrument_key} does not belong to venue {venue!r}")
        by_key[inst.instrument_key] = inst
    snapshot = ActiveSnapshot(
        asof_ts_utc=iso_utc(asof_ms), venue=venue, count=len(by_key), instruments=by_key
    )
    atomic_write_bytes(path, _ENCODER.encode(snapshot))


class ActiveSetReader:
    """Re-reads one active snapshot when it changes; keeps the last good set otherwise."""

    def __init__(self, path: Path, *, quiet: bool = False) -> None:
        self.path = path
        self.quiet = quiet  # count problems, log none
        self.snapshot: ActiveSnapshot | None = None
        self.loads = 0
        self.failed_polls = 0
        self._signature: tuple[int, int, int] | None = None
        self._reported: set[str] = set()

    def instruments(self) -> list[Instrument]:
        """Return the last good set of instruments (empty before the first good read)."""
        return [] if self.snapshot is None else list(self.snapshot.instruments.values())

    def poll(self) -> bool:
        """Re-read the file if it changed; return True when a new good set was loaded."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._signature = None
            self._problem("missing", "does not exist")
            return False
        except OSError as exc:
            self._problem("unreadable", str(exc))
            return False
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        if signature == self._signature:
            return False
        # Remember the signature even if the read fails: a bad file is read once, not per poll.
        self._signature = signature
        return self._load()

    def _load(self) -> bool:
        try:
            snapshot = _DECODER.decode(self.path.read_bytes())
        except OSError as exc:
            self._problem("unreadable", str(exc))
            return False
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._problem("corrupt", str(exc))
            return False
        if snapshot.count != len(snapshot.instruments):
            detail = f"count {snapshot.count} but {len(snapshot.instruments)} instruments"
            self._problem("corrupt", detail)
            return False
        self.snapshot = snapshot
        self.loads += 1
        self._reported.clear()
        return True

    def _problem(self, kind: str, detail: str) -> None:
        self.failed_polls += 1
        if self.quiet or kind in self._reported:
            return
        self._reported.add(kind)
        kept = "keeping the last good set" if self.snapshot else "no instruments yet"
        _log.warning("active snapshot %s is %s (%s); %s", self.path, kind, detail, kept)
