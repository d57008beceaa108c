"""``pmtape rebuild``: run a capture back through the normalizers, books and snapshotter.

The capture holds every raw frame and, in the same ordered shard, the collector's own
decisions: which books it kept (subscribe/unsubscribe), session lifecycle (disconnects make
books stale), and every snapshot tick with the books it took. Replaying them through the same
state machine (collect/state.py) yields the same rows the live collector produced — same
ts_recv, seq, levels and status. Differences, by design: rows the live writer dropped under
pressure are present in the rebuild, and each time bucket is written as one file (live
flushes may have split a large bucket into parts).

Deterministic: the same capture always gives byte-identical Parquet files.

Damage does not stop a rebuild: a damaged or missing block is skipped (its frames are
gone), named in ``RebuildSummary.damage``, and replay carries on with the next block. So are
frames the run recorded as written that are not on disk. ``pmtape rebuild`` then exits 1
unless told ``--allow-damage``.
"""

from __future__ import annotations

import logging
import shutil
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa

from pmtape.capture.bundle import RunBundle
from pmtape.capture.format import FrameKind
from pmtape.capture.losses import recorded_counts, shortfalls
from pmtape.capture.reader import CaptureReader
from pmtape.collect.collector import replay_parts
from pmtape.collect.coverage import CoverageTracker
from pmtape.collect.state import VenueBooks
from pmtape.collect.venue import AUDIT_STREAM
from pmtape.core.errors import UsageError
from pmtape.core.instrument import Instrument
from pmtape.store.coverage import coverage_dir, write_coverage
from pmtape.store.files import write_bucket
from pmtape.store.parquet import split_by_bucket

log = logging.getLogger(__name__)

_DATA_KINDS = frozenset({FrameKind.WS_TEXT, FrameKind.WS_BINARY, FrameKind.HTTP_RESPONSE})
_CHUNK_ROWS = 50_000
TABLES = ("snapshots", "trades")


class RebuildSummary(msgspec.Struct):
    """What a rebuild read and wrote."""

    run_dir: str
    out_dir: str
    frames: int
    snapshot_rows: int
    trade_rows: int
    files: int
    bad_frames: int
    http_error_answers: int = 0  # kept in the capture, never applied (as live)
    coverage_rows: int = 0  # coverage ledger rows written
    damage: list[str] = []


class _Output:
    """Rows per (table, venue, bucket), each bucket written once, in one file."""

    def __init__(self, out_dir: Path, bucket_ms: int, level: int) -> None:
        self.out_dir = out_dir
        self.bucket_ms = bucket_ms
        self.level = level
        self.pending: dict[tuple[str, str, int], list[pa.Table]] = defaultdict(list)
        self.rows = dict.fromkeys(TABLES, 0)
        self.files = 0

    def add(self, kind: str, venue: str, table: pa.Table) -> None:
        for bucket, part in split_by_bucket(table, self.bucket_ms):
            self.pending[(kind, venue, bucket)].append(part)
            self.rows[kind] += part.num_rows
        newest = max(b for (k, v, b) in self.pending if k == kind and v == venue)
        self._write(lambda k, v, b: k == kind and v == venue and b < newest - self.bucket_ms)

    def close(self) -> None:
        self._write(lambda k, v, b: True)

    def _write(self, done: Callable[[str, str, int], bool]) -> None:
        for key in sorted(k for k in self.pending if done(*k)):
            kind, venue, bucket = key
            rows = pa.concat_tables(self.pending.pop(key))
            write_bucket(
                self.out_dir,
                kind,
                venue,
                bucket,
                rows,
                flush_rows=max(rows.num_rows, 1),
                compression_level=self.level,
            )
            self.files += 1


def rebuild(
    run_dir: Path,
    out_dir: Path,
    *,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> RebuildSummary:
    """Rebuild the Parquet archive of one capture run into ``out_dir``."""
    bundle = RunBundle.open(run_dir)
    meta = bundle.manifest.get("meta") or {}
    parts = replay_parts(meta, run_dir)
    _prepare_out(out_dir, force)
    states = parts.books
    ledgers = {v: CoverageTracker(v, parts.coverage_interval_ms) for v in states}
    out = _Output(out_dir, parts.writer.bucket_minutes * 60_000, parts.writer.compression_level)
    frames = 0
    http_errors = 0
    reader = CaptureReader(run_dir, strict=False)
    for frame in reader.frames():
        frames += 1
        venue, _, stream = frame.stream.partition(":")
        state = states.get(venue)
        if state is None or stream == AUDIT_STREAM:
            continue
        if frame.http is not None and not 200 <= frame.http.status < 300:
            http_errors += 1
            continue
        _replay(state, ledgers[venue], frame.kind, frame.payload, frame.rx_wall_ns)
        if frame.http is not None:
            ledgers[venue].poll_ok()
        if len(state.snapshots) >= _CHUNK_ROWS or len(state.trades) >= _CHUNK_ROWS:
            _drain(state, out)
        if progress is not None and frames % 100_000 == 0:
            progress(frames)
    for state in states.values():
        _drain(state, out)
    out.close()
    coverage_rows = _write_ledgers(out_dir, bundle.run_id, parts.coverage_interval_ms, ledgers)
    return RebuildSummary(
        run_dir=str(run_dir),
        out_dir=str(out_dir),
        frames=frames,
        snapshot_rows=out.rows["snapshots"],
        trade_rows=out.rows["trades"],
        files=out.files,
        bad_frames=sum(s.normalizer.stats.get("bad", 0) for s in states.values()),
        http_error_answers=http_errors,
        coverage_rows=coverage_rows,
        damage=[str(d) for d in reader.damage] + shortfalls(recorded_counts(bundle), reader.found),
    )


def _subscribed(venue: str, row: list[Any]) -> Instrument:
    """An instrument of a ``subscribe`` row: its three ids, then its ``raw`` (a dict) and its
    tick e6 (an int) where the row has them (older captures have neither or only ``raw``)."""
    raw = next((x for x in row[3:] if isinstance(x, dict)), None)
    tick = next((x for x in row[3:] if type(x) is int), 0)
    return Instrument(
        venue=venue, market_id=row[0], instrument_id=row[1], poll_key=row[2], raw=raw, tick_e6=tick
    )


def _replay(
    state: VenueBooks, ledger: CoverageTracker, kind: FrameKind, payload: bytes, rx_wall_ns: int
) -> None:
    if kind in _DATA_KINDS:
        state.apply_frame(payload, rx_wall_ns // 1_000_000)
        return
    body: dict[str, Any] = msgspec.json.decode(payload)
    event = body.get("event")
    if kind is FrameKind.SUBSCRIBE:
        insts = [_subscribed(state.venue, row) for row in body["instruments"]]
        state.add(insts)
        ledger.kept_changed([(i.market_id, i.instrument_id) for i in insts], ())
    elif kind is FrameKind.UNSUBSCRIBE:
        gone = state.remove(body["keys"])
        ledger.kept_changed((), [(i.market_id, i.instrument_id) for i in gone])
    elif event == "snapshot":
        batch = state.snapshots
        start = len(batch)
        state.snapshot(body["keys"], body["ts_ms"])
        ledger.rows(batch, start, body["ts_ms"])
    elif event == "universe":
        added = [(m, i) for m, i in body["added"]]
        ledger.universe_changed(added, [(m, i) for m, i in body["removed"]], body["ts_ms"])
    elif event == "coverage_end":
        ledger.finish(body["ts_ms"])
    else:
        detail = body.get("detail") or {}
        kind_name = body["event"]
        state.session_event(body["stream"], kind_name, detail)
        ledger.session_event(kind_name, detail, rx_wall_ns // 1_000_000, state.by_poll)


def _write_ledgers(
    out_dir: Path, run_id: str, interval_ms: int, ledgers: dict[str, CoverageTracker]
) -> int:
    """Write the coverage ledgers as the live collector did (a run that crashed: up to its
    last recorded step)."""
    rows = 0
    for venue, ledger in ledgers.items():
        if ledger.open_start is not None:
            ledger.finish(ledger.last_ts)
        table = ledger.take()
        rows += table.num_rows
        write_coverage(out_dir, venue, run_id, interval_ms / 1000, table)
    return rows


def _drain(state: VenueBooks, out: _Output) -> None:
    snaps, trades = state.take_rows()
    if len(snaps):
        out.add("snapshots", state.venue, snaps.to_table())
    if len(trades):
        out.add("trades", state.venue, trades.to_table())


def _prepare_out(out_dir: Path, force: bool) -> None:
    tops = [out_dir / t for t in ("orderbook_snapshots", "trades")] + [coverage_dir(out_dir)]
    existing = [top for top in tops if top.exists()]
    if existing and not force:
        raise UsageError(f"{out_dir} already holds an archive (use --force to replace it)")
    for path in existing:
        shutil.rmtree(path)
    out_dir.mkdir(parents=True, exist_ok=True)
