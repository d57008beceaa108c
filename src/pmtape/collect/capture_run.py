"""The collector's run bundle: manifest, capture shards, run log, metrics, fatal records.

One shard per venue (its number is in the manifest under ``venues``), so each venue's frames
and decisions sit in one ordered stream that ``pmtape rebuild`` replays.
"""

from __future__ import annotations

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
from pmtape.capture.options import WriterOptions
from pmtape.collect.recorder import Recorder
from pmtape.config import Config, redacted_dict
from pmtape.schedule.active import ActiveSetReader, active_snapshot_path


def new_run_id() -> str:
    """Return a sortable, unique run id such as 20261121T081500Z-4242."""
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}"


class CaptureRun:
    """Owns a run bundle while a collector runs."""

    def __init__(self, config: Config, venues: Sequence[str], run_id: str | None = None) -> None:
        cap = config.capture
        self.shards = {name: i for i, name in enumerate(venues)}
        self.bundle = RunBundle.create(
            config.data_dir, run_id or new_run_id(), _manifest(config, self.shards)
        )
        self.capture = self.bundle.open_capture(
            self.shards.values(),
            WriterOptions(
                flush_interval_s=cap.flush_interval_s,
                segment_max_bytes=cap.segment_max_mb << 20,
                segment_max_s=cap.segment_max_s,
                zstd_level=cap.zstd_level,
            ),
        )
        self.runlog: NdjsonLog = self.bundle.runlog
        self.stopping = False
        self._connected: dict[str, bool] = {}

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

    def heartbeat(
        self, loop_lag_ms: list[float], dropped_total: int, pressure: bool, venues: dict[str, Any]
    ) -> None:
        """Write the once-a-second heartbeat and metrics records."""
        self.runlog.write("heartbeat")
        self.bundle.metrics().write(
            "metrics", loop_lag_ms=loop_lag_ms, dropped_total=dropped_total, pressure=pressure
        )
        for venue, shard in self.shards.items():
            record = self.capture.writers[shard].metrics_record()
            st = venues.get(venue, {})
            record.update(
                venue=venue,
                frames=st.get("frames", 0),
                bytes=st.get("bytes", 0),
                subs=st.get("subs"),
            )
            self.bundle.metrics(shard).write("metrics", **record)

    def finish(self, reason: str = "normal") -> None:
        """Flush and close the capture, then record the stop."""
        self.capture.close()
        self.bundle.finish(reason)

    def fatal(self, reason: str, missing_tokens: list[str]) -> None:
        """Write the fatal records (reason, books never received, last frames)."""
        self.bundle.write_fatal(reason, missing_tokens, self.capture.last_frames_by_shard())


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


def _manifest(config: Config, shards: Mapping[str, int]) -> dict[str, Any]:
    universe = {}
    for venue in shards:
        # The venue's own reader reports a missing or corrupt file; this look stays quiet.
        reader = ActiveSetReader(active_snapshot_path(config.data_dir, venue), quiet=True)
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
        "config": redacted_dict(config),
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
