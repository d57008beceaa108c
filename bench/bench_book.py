"""Canonical level updates applied per second to pmtape's Book, on one core.

The stream is the sim venue's: 2,000 books built up from their initial levels, then
prediction-market-shaped deltas (changes concentrated near the top, insertions, removals).
Snapshot extraction (top-K per side) is timed separately over the settled books.
"""

from __future__ import annotations

import argparse
import gc
import time

from pmtape.core.book import Book
from pmtape.venues.sim.generator import bench_changes


def main() -> None:
    """Print level updates/s applied and top-K extractions/s."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=2_000_000, help="level updates to apply")
    parser.add_argument("--books", type=int, default=2_000)
    parser.add_argument("--top-k", type=int, default=50)
    args = parser.parse_args()

    t0 = time.perf_counter()
    stream = bench_changes(args.changes, seed=7, books=args.books)
    n_changes = sum(len(c) for _, c in stream)
    print(
        f"built {n_changes:,} level updates in {len(stream):,} deltas over {args.books:,} books "
        f"({time.perf_counter() - t0:.1f}s)"
    )
    gc.collect()
    gc.freeze()
    best = 0.0
    for _ in range(3):
        books = {key: Book(args.top_k) for key, _ in stream}
        start = time.perf_counter()
        for key, changes in stream:
            books[key].apply_changes(changes, 0, None)
        elapsed = time.perf_counter() - start
        best = max(best, n_changes / elapsed)
    print(f"book apply: {best:,.0f} level updates/s (best of 3; target >= 700,000)")

    keys = list(books)
    start = time.perf_counter()
    rounds = 0
    while time.perf_counter() - start < 1.0:
        for key in keys:
            book = books[key]
            book.bid_prices()
            book.ask_prices()
        rounds += 1
    elapsed = time.perf_counter() - start
    print(
        f"top-{args.top_k} read: {rounds * len(keys) / elapsed:,.0f} books/s "
        f"(both sides' top-K prices; the levels are kept sorted, so nothing to sort)"
    )


if __name__ == "__main__":
    main()
