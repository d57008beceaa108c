"""Read the miner's stats cache: instrument_key -> score, for choosing HOT instruments."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pmtape.core.clock import utc_date
from pmtape.store.stats import latest_stats_path

_log = logging.getLogger(__name__)
# (path, mtime_ns, size) of cache files already reported unreadable: one line per bad file.
_reported: set[tuple[str, int, int]] = set()


def load_scores(data_dir: Path, venue: str, today_ms: int) -> dict[str, float] | None:
    """Return the newest stats cache's scores dated on or before today, or None."""
    path = latest_stats_path(data_dir, venue, utc_date(today_ms))
    if path is None:
        return None
    try:
        table = pq.read_table(path, columns=["instrument_key", "score"])
        keys = table.column("instrument_key").to_pylist()
        values = table.column("score").to_pylist()
        return {
            str(key): float(value)
            for key, value in zip(keys, values, strict=True)
            if key is not None and value is not None and math.isfinite(value)
        }
    except (OSError, ValueError, TypeError, KeyError, pa.ArrowException) as exc:
        _report_once(path, exc)
        return None


def _report_once(path: Path, exc: Exception) -> None:
    try:
        st = path.stat()
        ident = (str(path), st.st_mtime_ns, st.st_size)
    except OSError:
        ident = (str(path), 0, 0)
    if ident in _reported:
        return
    _reported.add(ident)
    _log.warning("stats cache %s is unreadable, ignoring it: %s", path, exc)
