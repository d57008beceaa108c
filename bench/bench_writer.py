"""Benchmark the snapshot writer on one core: SnapshotBatch.append_book -> to_table -> Parquet.

~1000 prediction-market books (5-60 levels a side on 0.01 ticks in (0, 1), 2-decimal sizes) are
snapshotted in time order every 2 s of simulated time, with the few level updates a live book sees
in between. Every ``--flush-rows`` rows the batch goes through the writer's flush path, as the
ParquetSink runs it: to_table in archive order (the instrument/time sort fused into the
conversion), split by bucket, zstd Parquet, atomic rename, into a Hive layout under a temp
dir. The same tables are also written with pyarrow's defaults and with dictionary encoding on
every column, for comparison in the same run.

    .venv/bin/python bench/bench_writer.py --rows 1000000
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pmtape.core.book import Book
from pmtape.store.files import parquet_options, sort_rows, write_parquet
from pmtape.store.layout import snapshot_path
from pmtape.store.parquet import ParquetSink, WriterSettings, split_by_bucket
from pmtape.store.rows import SnapshotBatch

TICK = 10_000  # 0.01 in e6
SNAPSHOT_EVERY_MS = 2_000
BUCKET_MS = 5 * 60_000
T0_MS = 1_767_225_600_000  # 2026-01-01T00:00Z


@dataclass
class LiveBook:
    """A book plus the ids it is archived under."""

    market_id: str
    outcome_id: str
    book: Book


@dataclass
class Figures:
    """Accumulated seconds and sizes of one run."""

    rows: int = 0
    files: int = 0
    levels: int = 0
    resort_s: float = 0.0
    append_s: float = 0.0
    table_s: float = 0.0
    sort_s: float = 0.0
    write_s: float = 0.0
    sink_thread_s: float = 0.0
    sink_rows: int = 0
    sink_bytes: int = 0
    variants: dict[str, list[float]] = field(default_factory=dict)


def _size(rng: random.Random) -> int:
    """Return a 2-decimal size in e6: round lots are common, the rest spread widely."""
    if rng.random() < 0.3:
        return rng.choice((5, 10, 20, 50, 100, 200, 250, 500, 1000, 5000)) * 1_000_000
    return round(rng.lognormvariate(4.0, 1.8) * 100) * 10_000 or 10_000


def _seed_book(rng: random.Random, live: LiveBook, ts_ms: int) -> None:
    best_bid = rng.randint(2, 96)
    best_ask = min(best_bid + rng.choice((1, 1, 1, 2, 3)), 99)
    n_bid = min(rng.randint(5, 60), best_bid)
    n_ask = min(rng.randint(5, 60), 100 - best_ask)
    bids = [((best_bid - i) * TICK, _size(rng)) for i in range(n_bid)]
    asks = [((best_ask + i) * TICK, _size(rng)) for i in range(n_ask)]
    if rng.random() < 0.02:
        asks = []  # a one-sided book: status "partial"
    live.book.apply_snapshot(bids, asks, ts_ms, ts_ms - rng.randint(5, 200))


def _new_level(rng: random.Random, book: Book, side: int, levels: list[int]) -> int | None:
    """Return a free price one tick inside the touch (30%) or one tick deeper, if valid."""
    outward = -TICK if side == 0 else TICK
    px = levels[0] - outward if rng.random() < 0.3 else levels[-1] + outward
    own, other = (book.bids, book.asks) if side == 0 else (book.asks, book.bids)
    crosses = (side == 0 and other and px >= min(other)) or (
        side == 1 and other and px <= max(other)
    )
    if not 0 < px < 100 * TICK or px in own or crosses:
        return None
    return px


def _change(rng: random.Random, book: Book, side: int) -> list[tuple[int, int, int]]:
    """Return one update: mostly a size change near the touch, else a level moving away."""
    levels = book.bid_prices() if side == 0 else book.ask_prices()
    if not levels:
        return []
    px = levels[min(len(levels) - 1, int(rng.expovariate(0.25)))]
    if rng.random() < 0.7 or len(levels) < 5:
        return [(side, px, _size(rng))]
    # A level is pulled and another placed: the book's depth stays where it was seeded.
    new_px = _new_level(rng, book, side, levels)
    if new_px is None:
        return [(side, px, _size(rng))]
    return [(side, px, 0), (side, new_px, _size(rng))]


def _churn(rng: random.Random, live: LiveBook, ts_ms: int) -> None:
    """Apply the few level updates a live book sees between two snapshots."""
    changes = []
    for _ in range(rng.randint(0, 4)):
        changes += _change(rng, live.book, rng.randint(0, 1))
    if changes:
        live.book.apply_changes(changes, ts_ms, ts_ms - rng.randint(5, 200))


def _make_books(rng: random.Random, count: int, top_k: int) -> list[LiveBook]:
    books = []
    for _ in range(count // 2):
        market = f"0x{rng.getrandbits(256):064x}"
        for _ in range(2):  # two outcome tokens per market, as on Polymarket
            live = LiveBook(market, str(rng.getrandbits(254)), Book(top_k=top_k))
            _seed_book(rng, live, T0_MS)
            books.append(live)
    return books


def _write_variants(table: pa.Table, out: Path, n: int, figures: Figures) -> None:
    """Write the chunk with pyarrow defaults and with dictionary on every column, timed."""
    sorted_rows = sort_rows(table)
    for name, rows, options in (
        ("pyarrow defaults (time order)", table, {}),
        (
            "dictionary on ALL columns + zstd 3, sorted",
            sorted_rows,
            {**parquet_options(table.schema, 3), "use_dictionary": True},
        ),
        ("pmtape settings, same sorted table", sorted_rows, parquet_options(table.schema, 3)),
    ):
        path = out / f"variant_{n}.parquet"
        t0 = time.perf_counter()
        pq.write_table(rows, path, **options)
        acc = figures.variants.setdefault(name, [0.0, 0.0])
        acc[0] += time.perf_counter() - t0
        acc[1] += path.stat().st_size
        path.unlink()


def _flush(batch: SnapshotBatch, out: Path, figures: Figures) -> pa.Table:
    write_before = figures.write_s
    """Run the flush path on ``batch`` (to_table, split by bucket, sort, write), timed by step."""
    t0 = time.perf_counter()
    table = batch.to_table(sort=True)
    t1 = time.perf_counter()
    figures.table_s += t1 - t0
    for bucket, ordered in split_by_bucket(table, BUCKET_MS):
        t2 = time.perf_counter()
        figures.files += 1
        path = snapshot_path(out / "archive", "snapshots", "bench", bucket, part=figures.files)
        write_parquet(ordered, path)
        figures.write_s += time.perf_counter() - t2
    figures.sort_s += time.perf_counter() - t1 - figures.write_s + write_before
    figures.rows += table.num_rows
    for column in ("bid_px", "ask_px"):
        figures.levels += pc.sum(pc.list_value_length(table.column(column))).as_py()
    return table


def _snapshot_round(books: list[LiveBook], batch: SnapshotBatch, ts: int, f: Figures) -> None:
    """Snapshot every book once: top-K re-sort (the Book's cost) then append_book (ours)."""
    t0 = time.perf_counter()
    for live in books:
        live.book.bid_prices()
        live.book.ask_prices()
    t1 = time.perf_counter()
    for live in books:
        batch.append_book(ts, "bench", live.market_id, live.outcome_id, live.book, ts, None)
    f.resort_s += t1 - t0
    f.append_s += time.perf_counter() - t1


def _rounds(args: argparse.Namespace) -> Iterator[tuple[list[LiveBook], int]]:
    """Yield the books after each round of live churn, with the round's snapshot time."""
    rng = random.Random(args.seed)
    books = _make_books(rng, args.books, args.top_k)
    gc.freeze()  # as the collector does after start-up
    ts = T0_MS
    while True:
        ts += SNAPSHOT_EVERY_MS
        for live in books:
            _churn(rng, live, ts - rng.randint(1, SNAPSHOT_EVERY_MS - 1))
        yield books, ts


def run_direct(args: argparse.Namespace, out: Path, figures: Figures) -> None:
    """Snapshot into batches of ``flush_rows`` and run each through the flush path inline."""
    batch = SnapshotBatch()
    for books, ts in _rounds(args):
        _snapshot_round(books, batch, ts, figures)
        done = figures.rows + len(batch) >= args.rows
        if len(batch) >= args.flush_rows or done:
            _flush(batch, out, figures)
            _write_variants(batch.to_table(), out, figures.rows, figures)
            batch = SnapshotBatch()
        if done:
            return


def run_sink(args: argparse.Namespace, out: Path, figures: Figures) -> None:
    """Submit one batch per round to a ParquetSink; measure its writer thread's CPU time."""
    sink = ParquetSink(out / "sink", WriterSettings(flush_rows=args.flush_rows))
    scratch = Figures()
    submitted = 0
    cpu0 = time.process_time()
    main0 = time.thread_time()
    sink.start()
    for books, ts in _rounds(args):
        batch = SnapshotBatch()
        _snapshot_round(books, batch, ts, scratch)
        submitted += len(batch)
        sink.submit("snapshots", "bench", batch)
        if submitted >= args.rows:
            break
    sink.close()
    # Everything this process ran on a CPU, minus the main thread: the writer thread.
    figures.sink_thread_s = (time.process_time() - cpu0) - (time.thread_time() - main0)
    stats = sink.stats()
    figures.sink_rows = stats["rows_written"]
    figures.sink_bytes = sum(p.stat().st_size for p in (out / "sink").rglob("*.parquet"))


def _line(label: str, rows: int, secs: float, extra: str = "") -> str:
    return f"{label:<52}{rows / secs:>11,.0f} rows/s  {secs / rows * 1e6:6.2f} us/row{extra}"


def _report(args: argparse.Namespace, out: Path, f: Figures) -> None:
    rows = f.rows
    on_disk = sum(p.stat().st_size for p in (out / "archive").rglob("*.parquet"))
    writer_s = f.table_s + f.sort_s + f.write_s
    print(
        f"rows={rows:,} books={args.books} top_k={args.top_k} flush_rows={args.flush_rows:,} "
        f"levels/side={f.levels / rows / 2:.1f} pinned to cpu {args.cpu}, pyarrow 1 thread"
    )
    print(_line("end-to-end: append_book + sorted to_table + write", rows, f.append_s + writer_s))
    print(_line("  same plus the Book's top-K re-sort", rows, f.resort_s + f.append_s + writer_s))
    print(_line("  Book top-K re-sort of changed books (core)", rows, f.resort_s))
    print(_line("  SnapshotBatch.append_book", rows, f.append_s))
    print(_line("writer only: sorted to_table + split + write", rows, writer_s))
    print(_line("  to_table in (market, outcome, ts) order", rows, f.table_s))
    print(_line("  split by bucket", rows, f.sort_s))
    print(_line("  Parquet write (zstd 3, atomic, fsync)", rows, f.write_s))
    print(f"{'bytes/row on disk, pmtape settings':<52}{on_disk / rows:>11.1f}")
    for name, (secs, size) in f.variants.items():
        print(_line(f"write only, {name}", rows, secs, f"  {size / rows:6.1f} B/row"))
    if f.sink_rows:
        sink_bytes = f"  {f.sink_bytes / f.sink_rows:6.1f} B/row"
        print(
            _line(
                "ParquetSink thread CPU (1000-row batches)",
                f.sink_rows,
                f.sink_thread_s,
                sink_bytes,
            )
        )
    speed = rows / writer_s
    size = on_disk / rows
    print(
        f"targets: writer >= 200,000 rows/s {'PASS' if speed >= 200_000 else 'MISS'} "
        f"({speed:,.0f}); <= 120 B/row {'PASS' if size <= 120 else 'MISS'} ({size:.1f})"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--books", type=int, default=1_000)
    parser.add_argument("--top-k", type=int, default=50)
    parser.add_argument("--flush-rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cpu", type=int, default=0, help="pin to this CPU (-1: don't pin)")
    parser.add_argument("--no-sink", action="store_true", help="skip the ParquetSink run")
    args = parser.parse_args(argv)
    if args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="pmtape-bench-") as tmp:
        out = Path(tmp)
        run_direct(args, out, figures)
        if not args.no_sink:
            run_sink(args, out, figures)
        _report(args, out, figures)


if __name__ == "__main__":
    main()
