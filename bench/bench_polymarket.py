"""Polymarket ingest on one core: decode + normalize + book apply, as a ratio to plain decoding.

The stream is the market channel as the fake venue speaks it: one ``book`` per asset (2,000
assets by default), then ``price_change`` messages in the current format (both tokens' items
in one message, best bid/ask per item, order hashes, 77-digit token ids; about 570 bytes a
message), driven by the sim generator. Both paths run over the same frames in the same
process, interleaved, best of three; the ratio is what to compare across machines.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

import msgspec

from pmtape.core.book import Book
from pmtape.core.events import BookDelta, BookSnapshot
from pmtape.venues.polymarket.fake_wire import WireEncoder
from pmtape.venues.polymarket.normalize import PolymarketNormalizer
from pmtape.venues.sim.generator import SimGenerator, SimUniverse

TARGET_RATIO = 0.6


def build_stream(messages: int, assets: int, seed: int = 7) -> list[bytes]:
    """Return one frame per message: initial books, then price changes."""
    universe = SimUniverse(seed, markets=max(1, assets // 2), rolling_share=0.0)
    gen = SimGenerator(universe, seed, trade_ratio=0.0, snapshot_ratio=0.0)
    now = universe.anchor_ms
    gen.refresh(now)
    wire = WireEncoder()
    encode = msgspec.json.Encoder().encode
    frames = [
        encode(wire.book(gen.snapshot_of(token, now)))
        for market in gen.active_markets
        for token in market.token_ids
    ]
    target = messages + len(frames)
    while len(frames) < target:
        now += 1
        frames.extend(encode(msg) for msg in wire.encode(gen.step(now, 4096)))
    return frames[:target]


def run_plain(frames: list[bytes]) -> None:
    """Decode every frame with plain ``msgspec.json.decode`` (the floor)."""
    decode = msgspec.json.decode
    for frame in frames:
        decode(frame)


def run_normalize(frames: list[bytes]) -> None:
    """Normalize every frame, dropping the events (decode + normalize, no book)."""
    normalize = PolymarketNormalizer().normalize
    for frame in frames:
        normalize(frame, 1_790_000_000_000)


def run_ingest(frames: list[bytes]) -> None:
    """Normalize every frame and apply its events to per-asset books."""
    norm = PolymarketNormalizer()
    books: dict[str, Book] = {}
    normalize = norm.normalize
    ts = 1_790_000_000_000
    for frame in frames:
        for ev in normalize(frame, ts):
            book = books.get(ev.key)  # type: ignore[union-attr]
            if book is None:
                book = books[ev.key] = Book(50)  # type: ignore[union-attr]
            if type(ev) is BookDelta:
                book.apply_changes(ev.changes, ev.ts_recv_ms, ev.ts_event_ms)
            elif type(ev) is BookSnapshot:
                book.apply_snapshot(ev.bids, ev.asks, ev.ts_recv_ms, ev.ts_event_ms)
    if norm.stats["bad"] or norm.stats["unknown"]:
        raise SystemExit(f"the stream did not normalize cleanly: {norm.stats}")


def _timed(fn: Callable[[list[bytes]], None], frames: list[bytes]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn(frames)
    return len(frames) / (time.perf_counter() - start)


def main() -> None:
    """Print plain-decode and ingest rates (messages/s) and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000, help="price_change messages")
    parser.add_argument("--assets", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gc-threshold", type=int, default=0, help="gen-0 threshold (0: keep)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    frames = build_stream(args.messages, args.assets)
    size = sum(map(len, frames)) / len(frames)
    print(
        f"built {len(frames):,} frames over {args.assets:,} assets, {size:.0f} bytes a message "
        f"({time.perf_counter() - t0:.1f}s)"
    )
    gc.collect()
    gc.freeze()
    if args.gc_threshold:
        gc.set_threshold(args.gc_threshold, 50, 100)
    rates: dict[str, list[float]] = {"plain": [], "normalize": [], "ingest": []}
    paths = {"plain": run_plain, "normalize": run_normalize, "ingest": run_ingest}
    for _ in range(args.runs):
        for name, fn in paths.items():
            rates[name].append(_timed(fn, frames))
    p, n, i = (statistics.median(rates[k]) for k in ("plain", "normalize", "ingest"))
    print(f"plain msgspec.json.decode: {p:,.0f} msgs/s ({1e6 / p:.2f} us/msg)")
    print(f"decode+normalize:          {n:,.0f} msgs/s ({1e6 / n:.2f} us/msg)")
    print(f"decode+normalize+apply:    {i:,.0f} msgs/s ({1e6 / i:.2f} us/msg)")
    print(f"ratio: {i / p:.2f} (target >= {TARGET_RATIO}); median of {args.runs}")


if __name__ == "__main__":
    main()
