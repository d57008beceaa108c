"""Layout of the miner's stats cache: ``stats/venue=V/date=D/stats.parquet``."""

from __future__ import annotations

import re
from pathlib import Path

STATS_FILE = "stats.parquet"

STATS_COLUMNS: tuple[str, ...] = (
    "venue",
    "market_id",
    "outcome_id",
    "instrument_key",
    "avg_depth3",
    "avg_spread",
    "update_count",
    "snapshots",
    "score",
    "first_ts",
    "last_ts",
)

_DATE_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


def stats_path(data_dir: Path, venue: str, date: str) -> Path:
    """Return where the stats cache of one venue and UTC date lives."""
    return data_dir / "stats" / f"venue={venue}" / f"date={date}" / STATS_FILE


def latest_stats_path(data_dir: Path, venue: str, on_or_before: str) -> Path | None:
    """Return the newest existing stats file of a venue dated on or before a UTC date."""
    venue_dir = data_dir / "stats" / f"venue={venue}"
    if not venue_dir.is_dir():
        return None
    dates = []
    for child in venue_dir.iterdir():
        match = _DATE_DIR.match(child.name)
        if match and match.group(1) <= on_or_before and (child / STATS_FILE).is_file():
            dates.append(match.group(1))
    if not dates:
        return None
    return stats_path(data_dir, venue, max(dates))
