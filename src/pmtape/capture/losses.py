"""What a run recorded as written, and where the capture on disk falls short of it.

A clean stop (``RunBundle.finish``) writes each shard's written frames and blocks into the
manifest (``capture_at_stop``); every one of them must be on disk. A run without that record
(a crash) is held to its last metrics records: the blocks (``capture_blocks``) and frames
(``capture_durable_frames``) its writers had written when the record was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmtape.capture.bundle import RunBundle, read_ndjson
from pmtape.capture.format import segment_name


@dataclass(frozen=True, slots=True)
class Recorded:
    """A shard's frames and blocks recorded as written (durable), and who recorded them."""

    shard: int
    frames: int | None
    blocks: int | None
    source: str


@dataclass(slots=True)
class Found:
    """What a tool found of one shard on disk."""

    frames: int = 0
    blocks: int = 0
    next_frame: int | None = None  # one past the last frame found
    files: bool = False


def stopped_cleanly(bundle: RunBundle) -> bool:
    """Return True if the run recorded a stop (its writers were closed before it)."""
    return bundle.manifest.get("stop_reason") is not None


def recorded_counts(bundle: RunBundle) -> dict[int, Recorded]:
    """Return each shard's recorded frames/blocks: the stop record, else the last metrics."""
    at_stop = bundle.manifest.get("capture_at_stop")
    if isinstance(at_stop, dict):
        out = {}
        for key, counts in at_stop.items():
            if isinstance(counts, dict) and str(key).isdigit():
                shard = int(key)
                out[shard] = Recorded(
                    shard,
                    _int(counts.get("frames")),
                    _int(counts.get("blocks")),
                    "the manifest's stop record",
                )
        return out
    return _from_metrics(bundle.path / "metrics")


def _from_metrics(metrics_dir: Path) -> dict[int, Recorded]:
    out = {}
    for path in sorted(metrics_dir.glob("shard_*.ndjson")) if metrics_dir.is_dir() else []:
        digits = path.stem.removeprefix("shard_")
        if not digits.isdigit():
            continue
        records, _ = read_ndjson(path)
        frames = _max(records, "capture_durable_frames")
        blocks = _max(records, "capture_blocks")
        if frames or blocks:
            shard = int(digits)
            out[shard] = Recorded(shard, frames, blocks, f"metrics/{path.name}")
    return out


def shortfalls(recorded: dict[int, Recorded], found: dict[int, Found]) -> list[str]:
    """Name every shard whose files hold fewer frames or blocks than were recorded."""
    out = []
    for shard, rec in sorted(recorded.items()):
        got = found.get(shard, Found())
        want_frames, want_blocks = rec.frames or 0, rec.blocks or 0
        if not got.files and (want_frames or want_blocks):
            out.append(
                f"shard {shard:02d}: capture/{segment_name(shard, 0, 'frames')} is missing; "
                f"{_count(rec)} were written (per {rec.source})"
            )
        elif got.frames < want_frames:
            span = ""
            if got.next_frame == got.frames:
                span = f" (frames {got.frames}-{want_frames - 1})"
            out.append(
                f"shard {shard:02d}: {want_frames - got.frames} frames missing{span}: "
                f"{got.frames} on disk of {want_frames} written (per {rec.source})"
            )
        elif got.blocks < want_blocks:
            out.append(
                f"shard {shard:02d}: {want_blocks - got.blocks} blocks missing: "
                f"{got.blocks} on disk of {want_blocks} written (per {rec.source})"
            )
    return out


def missing_files(recorded: dict[int, Recorded], present: list[int]) -> list[str]:
    """Name every shard recorded as written whose files are gone."""
    found = {s: Found(frames=1 << 62, blocks=1 << 62, files=True) for s in present}
    return shortfalls(recorded, found)


def _count(rec: Recorded) -> str:
    if rec.frames:
        return f"{rec.frames} frames"
    return f"{rec.blocks} blocks"


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _max(records: list[dict[str, Any]], key: str) -> int | None:
    vals = [v for r in records if (v := _int(r.get(key))) is not None]
    return max(vals, default=None)
