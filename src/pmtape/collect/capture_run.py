"""The collector's run bundle: manifest, capture shards, run log, metrics, fatal records.

One shard per venue (its number is in the manifest under ``venues``), so each venue's frames
and decisions sit in one ordered stream that ``pmtape rebuild`` replays.
"""

from __future__ import annotations

import logging
import os
import platform
import socket
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pmtape import __version__
from pmtape.capture.bundle import NdjsonLog, RunBundle
from pmtape.capture.options import WriterOptions, WriterStats
from pmtape.capture.recorder import Recorder
from pmtape.core.clock import iso_utc
from pmtape.store.active import ActiveSetReader, active_snapshot_path
from pmtape.store.rows import AUDITS

log = logging.getLogger(__name__)
# The snapshot rows' invariant audits (not the REST audit's audit_checked/audit_mismatches).
_AUDIT_KEYS = frozenset({"audit_rows", *(f"audit_{a}" for a in AUDITS)})


def new_run_id() -> str:
    """Return a sortable, unique run id such as 20261121T081500Z-4242."""
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}"


class CaptureRun:
    """Owns a run bundle while a collector runs."""

    def __init__(
        self,
        data_dir: Path,
        venues: Sequence[str],
        options: WriterOptions,
        *,
        config_doc: Mapping[str, Any],
        run_id: str | None = None,
    ) -> None:
        """Create the bundle; ``config_doc`` (the config, secrets masked) goes in its manifest."""
        self.shards = {name: i for i, name in enumerate(venues)}
        self.bundle = RunBundle.create(
            data_dir, run_id or new_run_id(), _manifest(data_dir, self.shards, config_doc)
        )
        self.capture = self.bundle.open_capture(self.shards.values(), options)
        self.runlog: NdjsonLog = self.bundle.runlog
        self.stopping = False
        self._connected: dict[str, bool] = {}
        self._audit_seen: dict[str, int] = {}  # venue -> audit_rows already in the run log
        self.drops = {
            venue: CaptureDrops(venue, shard, self.runlog) for venue, shard in self.shards.items()
        }

    @property
    def path(self) -> Path:
        """Return the bundle's directory."""
        return self.bundle.path

    def recorder(self, venue: str) -> Recorder:
        """Return the recorder of a venue's shard."""
        return Recorder(self.capture, self.shards[venue], venue)

    def event(self, venue: str, kind: str, fields: Mapping[str, Any]) -> None:
        """Log a venue's lifecycle record: session events, universe refreshes, subscriptions."""
        if kind == "session":
            self._session_event(venue, fields["stream"], fields["event"], fields["detail"])
        else:
            self.runlog.write(kind, shard=self.shards[venue], venue=venue, **dict(fields))

    def _session_event(self, venue: str, stream: str, kind: str, detail: Mapping[str, Any]) -> None:
        """Log connects, disconnects and reconnects (a connect after a disconnect)."""
        shard = self.shards[venue]
        key = f"{venue}:{stream}"
        if kind == "connected":
            was = self._connected.get(key)
            self._connected[key] = True
            self.runlog.write("reconnect" if was is False else "connect", shard=shard, stream=key)
        elif kind == "disconnected":
            self._connected[key] = False
            self.runlog.write(
                "disconnect", shard=shard, stream=key, expected=self.stopping, **_brief(detail)
            )
        else:
            self.runlog.write(f"session_{kind}", shard=shard, stream=key, **_brief(detail))

    def dropped_frames(self, venue: str) -> int:
        """Return the capture frames of a venue's shard dropped so far (disk, queue, encoding)."""
        return self.capture.writers[self.shards[venue]].stats().dropped_frames

    def check_drops(self) -> None:
        """Open or close each shard's capture drop episode (logged, and kept in the run log)."""
        now = time.time_ns()
        for venue, drops in self.drops.items():
            drops.check(self.capture.writers[self.shards[venue]].stats(), now)

    def heartbeat(
        self, loop_lag_ms: list[float], dropped_total: int, pressure: bool, venues: dict[str, Any]
    ) -> None:
        """Write the once-a-second heartbeat and metrics records."""
        self.check_drops()
        self.runlog.write("heartbeat")
        self._audits(venues)
        self.bundle.metrics().write(
            "metrics", loop_lag_ms=loop_lag_ms, dropped_total=dropped_total, pressure=pressure
        )
        for venue, shard in self.shards.items():
            record = self.capture.metrics_record(shard)
            st = venues.get(venue, {})
            record.update(
                venue=venue,
                frames=st.get("frames", 0),
                bytes=st.get("bytes", 0),
                subs=st.get("subs"),
                http_errors={str(k): v for k, v in st.get("http_errors", {}).items()},
            )
            self.bundle.metrics(shard).write("metrics", **record)

    def _audits(self, venues: dict[str, Any]) -> None:
        """Write an ``audit_violations`` record for each venue whose rows failed audits since."""
        seen = self._audit_seen
        for venue, st in venues.items():
            counts = {k: v for k, v in st.items() if k in _AUDIT_KEYS}
            rows = counts.get("audit_rows", 0)
            if rows != seen.get(venue, 0):
                self.runlog.write(
                    "audit_violations",
                    shard=self.shards.get(venue),
                    venue=venue,
                    new_rows=rows - seen.get(venue, 0),
                    **counts,
                )
                seen[venue] = rows

    def finish(self, reason: str = "normal") -> None:
        """Flush and close the capture, then record the stop (and drops still going on)."""
        self.capture.close()
        self.check_drops()
        now = time.time_ns()
        for drops in self.drops.values():
            drops.end(now, at_stop=True)
        self.bundle.finish(reason)

    def fatal(self, reason: str, missing_tokens: list[str]) -> None:
        """Write the fatal records (reason, books never received, last frames)."""
        self.bundle.write_fatal(reason, missing_tokens, self.capture.last_frames_by_shard())


class CaptureDrops:
    """One shard's capture drops as episodes: a WARNING when they start, an INFO when they stop.

    Checked once a heartbeat. An episode starts when the shard's drop counter has grown
    and ends once a check sees no new drop and frames made durable again (a quiet venue
    neither ends nor starts one). Its ``capture_drops`` run log record (``event="end"``)
    bounds the affected time: drops began after ``start_ns`` (the last clean check) and
    ended before ``end_ns`` (the last check that saw one). The ``event="start"`` record
    may itself be lost to a full disk; the end record says everything again.
    """

    def __init__(self, venue: str, shard: int, runlog: NdjsonLog) -> None:
        self.venue = venue
        self.shard = shard
        self.runlog = runlog
        self.episodes = 0
        self._seen_dropped = 0
        self._seen_durable = 0
        self._last_check_ns = time.time_ns()
        self._open: dict[str, Any] | None = None

    def check(self, st: WriterStats, now_ns: int) -> None:
        """Compare the shard's counters with the last check's."""
        dropped, durable = st.dropped_frames, st.durable_frames
        ep = self._open
        if dropped > self._seen_dropped:
            if ep is None:
                ep = self._open = {
                    "start_ns": self._last_check_ns,
                    "dropped_before": self._seen_dropped,
                }
                self.episodes += 1
                log.warning(
                    "%s: capture is dropping frames (shard %d): %s",
                    self.venue,
                    self.shard,
                    st.last_error or "writer cannot keep up",
                )
                self.runlog.write(
                    "capture_drops",
                    event="start",
                    shard=self.shard,
                    venue=self.venue,
                    start_ns=ep["start_ns"],
                    error=st.last_error,
                )
            ep["end_ns"] = now_ns
            ep["frames"] = dropped - ep["dropped_before"]
            ep["error"] = st.last_error
        elif ep is not None and durable > self._seen_durable:
            self.end(now_ns)
        self._seen_dropped, self._seen_durable = dropped, durable
        self._last_check_ns = now_ns

    def end(self, now_ns: int, *, at_stop: bool = False) -> None:
        """Close the open episode, if any: log it and write its run log record."""
        ep, self._open = self._open, None
        if ep is None:
            return
        start_ns, end_ns, frames = ep["start_ns"], ep["end_ns"], ep["frames"]
        log.info(
            "%s: capture %s dropping frames (shard %d): %d frames lost since %s",
            self.venue,
            "still" if at_stop else "stopped",
            self.shard,
            frames,
            iso_utc(start_ns // 1_000_000),
        )
        self.runlog.write(
            "capture_drops",
            event="end",
            shard=self.shard,
            venue=self.venue,
            start_ns=start_ns,
            end_ns=end_ns,
            start_utc=iso_utc(start_ns // 1_000_000),
            end_utc=iso_utc(end_ns // 1_000_000),
            frames=frames,
            open_at_stop=at_stop,
            error=ep["error"],
            checked_ns=now_ns,
        )


# Fields the run log record sets itself; a detail field of the same name is renamed.
_RESERVED = frozenset({"ts_ns", "mono_ns", "kind", "shard", "stream", "expected", "venue"})


def _brief(detail: Mapping[str, Any]) -> dict[str, Any]:
    """Return a session event's detail for the run log, long key lists cut to a count."""
    out = {(f"detail_{k}" if k in _RESERVED else k): v for k, v in detail.items() if k != "keys"}
    keys = detail.get("keys")
    if isinstance(keys, list):
        out["keys_count"] = len(keys)
        out["keys_sample"] = keys[:5]
    elif keys is not None:
        out["keys_count"] = keys
    return out


def _manifest(
    data_dir: Path, shards: Mapping[str, int], config_doc: Mapping[str, Any]
) -> dict[str, Any]:
    universe = {}
    for venue in shards:
        # The venue's own reader reports a missing or corrupt file; this look stays quiet.
        reader = ActiveSetReader(active_snapshot_path(data_dir, venue), quiet=True)
        reader.poll()
        insts = reader.instruments()
        universe[venue] = {"instruments": len(insts), "keys": [i.instrument_key for i in insts]}
    return {
        "kind": "collect",
        "started_unix_s": time.time(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "versions": {
            "pmtape": __version__,
            "python": platform.python_version(),
            **_lib_versions(),
        },
        "venues": dict(shards),
        "config": dict(config_doc),
        "universe": universe,
    }


def _lib_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for lib in ("msgspec", "pyarrow", "aiohttp", "zstandard", "polars", "uvloop"):
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            continue
    return out
