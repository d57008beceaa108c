"""Polymarket ingest on one core: decode + normalize + book apply + capture append, as a ratio.

The stream is the market channel as the fake venue speaks it: one ``book`` per asset (2,000
assets by default), then ``price_change`` messages in the current format (both tokens' items
in one message, best bid/ask per item, order hashes, 77-digit token ids; about 620 bytes a
message), driven by the sim generator. Each path runs over the same frames in the same
process, interleaved, median of three; the ratio to plain ``msgspec.json.decode`` is what to
compare across machines.

Every ``book`` carries the venue's ``hash``, checked on the way in (by the scanner, from the
frame's bytes). The cost of that check is printed on its own: the same book frames with and
without their hash, per book, and its share of the ingest loop.

The ingest path is the collector's own receive path, frame by frame: the recorder appends the
raw frame to a real capture writer (stamped, CRC32C-framed; its thread compresses and writes
the blocks), then the venue's books apply it (``VenueBooks.apply_frame``: decode, normalize,
apply). The loop thread's rate is the ratio's numerator; the capture thread's CPU is printed
beside it (on a 2-core box it runs on the other core).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from pmtape import native
from pmtape.capture.bundle import ShardedCapture
from pmtape.capture.options import WriterOptions
from pmtape.capture.recorder import Recorder
from pmtape.collect.state import VenueBooks
from pmtape.core.instrument import Instrument
from pmtape.venues.polymarket.fake.wire import WireEncoder
from pmtape.venues.polymarket.normalize import PolymarketNormalizer
from pmtape.venues.sim.generator import SimGenerator, SimUniverse

TARGET_RATIO = 0.6


def build_stream(messages: int, assets: int, seed: int = 7) -> tuple[list[bytes], list[Instrument]]:
    """Return one frame per message (initial books, then price changes) and the instruments."""
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
    instruments = [
        Instrument(venue="polymarket", market_id=m.market_id, instrument_id=t, poll_key=t)
        for m in gen.active_markets
        for t in m.token_ids
    ]
    target = messages + len(frames)
    while len(frames) < target:
        now += 1
        frames.extend(encode(msg) for msg in wire.encode(gen.step(now, 4096)))
    return frames[:target], instruments


def run_plain(frames: list[bytes]) -> None:
    """Decode every frame with plain ``msgspec.json.decode`` (the floor)."""
    decode = msgspec.json.decode
    for frame in frames:
        decode(frame)


def run_normalize(frames: list[bytes]) -> None:
    """Normalize every frame into events (decode + normalize, no book)."""
    normalize = PolymarketNormalizer().normalize
    for frame in frames:
        normalize(frame, 1_790_000_000_000)


class Ingest:
    """The collector's receive path for one venue: capture append, then the books."""

    def __init__(self, instruments: list[Instrument], capture_dir: Path | None) -> None:
        self.instruments = instruments
        self.capture_dir = capture_dir
        self.capture_cpu_s = 0.0

    def __call__(self, frames: list[bytes]) -> None:
        state = VenueBooks("polymarket", PolymarketNormalizer(), 50, None)
        state.add(self.instruments)
        capture = None
        recorder = None
        if self.capture_dir is not None:
            capture = ShardedCapture(self.capture_dir, [0], WriterOptions(fsync=False))
            recorder = Recorder(capture, 0, "polymarket")
        cpu0 = time.process_time() - time.thread_time()
        apply_frame = state.apply_frame
        time_ns = time.time_ns
        for frame in frames:
            ts = time_ns()
            if recorder is not None:
                recorder.frame("ws", frame, ts)
            apply_frame(frame, ts // 1_000_000)
        if capture is not None:
            capture.close()  # the writer thread packs, compresses and writes what is left
        self.capture_cpu_s += time.process_time() - time.thread_time() - cpu0
        bad = {k: v for k, v in state.normalizer.stats.items() if k in ("bad", "unknown") and v}
        if bad or state.counters:
            raise SystemExit(f"the stream did not apply cleanly: {bad} {dict(state.counters)}")


def book_costs(frames: list[bytes], reps: int = 20) -> tuple[int, float, float, float]:
    """Return the book frames' count and the us per book: scanned without their hash, scanned
    with the hash check, and through the general path with the check (``scan=False``)."""
    hashed = [f for f in frames if f.startswith(b'{"event_type":"book"')]
    bare = [msgspec.json.encode(_without_hash(f)) for f in hashed]
    cases = [(bare, True), (hashed, True), (hashed, False)]
    costs = []
    for batch, scan in cases:
        norm = PolymarketNormalizer(scan=scan)
        gc.collect()
        start = time.thread_time()
        for _ in range(reps):
            for frame in batch:
                norm.normalize(frame, 1_790_000_000_000)
        costs.append((time.thread_time() - start) / (reps * len(batch)) * 1e6)
        checked = norm.stats["hash_ok"]
        if batch is hashed and (checked != reps * len(batch) or norm.stats["hash_mismatch"]):
            raise SystemExit(f"book hashes did not check out: {norm.stats}")
    return len(hashed), costs[0], costs[1], costs[2]


def _without_hash(frame: bytes) -> dict[str, object]:
    msg: dict[str, object] = msgspec.json.decode(frame)
    msg.pop("hash")
    return msg


def _timed(fn: Callable[[list[bytes]], None], frames: list[bytes]) -> float:
    gc.collect()
    start = time.thread_time()
    fn(frames)
    return len(frames) / (time.thread_time() - start)


def main() -> None:
    """Print plain-decode, normalize and ingest rates (messages/s) and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000, help="price_change messages")
    parser.add_argument("--assets", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gc-threshold", type=int, default=0, help="gen-0 threshold (0: keep)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    frames, instruments = build_stream(args.messages, args.assets)
    size = sum(map(len, frames)) / len(frames)
    print(
        f"built {len(frames):,} frames over {args.assets:,} assets, {size:.0f} bytes a message "
        f"({time.perf_counter() - t0:.1f}s); {native.summary()}"
    )
    gc.collect()
    gc.freeze()
    if args.gc_threshold:
        gc.set_threshold(args.gc_threshold, 50, 100)
    with tempfile.TemporaryDirectory() as tmp:
        ingest = Ingest(instruments, Path(tmp) / "capture")
        paths: dict[str, Callable[[list[bytes]], None]] = {
            "plain": run_plain,
            "normalize": run_normalize,
            "apply": Ingest(instruments, None),
            "ingest": ingest,
        }
        rates: dict[str, list[float]] = {k: [] for k in paths}
        for _ in range(args.runs):
            for name, fn in paths.items():
                rates[name].append(_timed(fn, frames))
    p, n, a, i = (statistics.median(rates[k]) for k in ("plain", "normalize", "apply", "ingest"))
    books, bare_us, scan_us, general_us = book_costs(frames)
    share = books * (scan_us - bare_us) / (len(frames) / i * 1e6) * 100
    cap_us = ingest.capture_cpu_s / (args.runs * len(frames)) * 1e6
    print(f"plain msgspec.json.decode:            {p:>9,.0f} msgs/s ({1e6 / p:.2f} us/msg)")
    print(f"decode+normalize to events:           {n:>9,.0f} msgs/s ({1e6 / n:.2f} us/msg)")
    print(f"decode+normalize+apply:               {a:>9,.0f} msgs/s ({1e6 / a:.2f} us/msg)")
    print(f"decode+normalize+apply+capture append: {i:>8,.0f} msgs/s ({1e6 / i:.2f} us/msg)")
    print(f"capture writer thread (pack+compress+write): {cap_us:.2f} us/msg on its own thread")
    print(
        f"book frames ({books:,}): {bare_us:.2f} us without a hash, {scan_us:.2f} us with its "
        f"check (scanner), {general_us:.2f} us (general path); the check: {share:.2f}% of ingest"
    )
    print(f"ratio: {i / p:.2f} (target >= {TARGET_RATIO}); loop-thread CPU, median of {args.runs}")


if __name__ == "__main__":
    main()
