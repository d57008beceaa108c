"""Where discovery's logs live under data_dir (the active snapshot's path is in schedule.active)."""

from __future__ import annotations

from pathlib import Path

from pmtape.core.clock import utc_date


def universe_path(data_dir: Path, venue: str, ts_ms: int) -> Path:
    """Return metadata/venue=V/date=D/universe.jsonl."""
    return data_dir / "metadata" / f"venue={venue}" / f"date={utc_date(ts_ms)}" / "universe.jsonl"


def markets_log_path(data_dir: Path, venue: str, ts_ms: int) -> Path:
    """Return markets/venue=V/date=D/markets_HH.jsonl."""
    hour = (ts_ms // 3_600_000) % 24
    day = f"date={utc_date(ts_ms)}"
    return data_dir / "markets" / f"venue={venue}" / day / f"markets_{hour:02d}.jsonl"
