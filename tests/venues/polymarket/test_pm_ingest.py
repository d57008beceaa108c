"""The fused receive path (``ingest``) changes books exactly as ``normalize`` + apply would.

``ingest`` sets levels of the books it is given straight from the decoded frame; everything
else comes back as events. Over a stream with every kind of frame (arrays mixing types,
tokens without a book, bad items, unknown and malformed frames, legacy price changes) the
books, their seq and stamps, the events returned and every counter must be the same as on
the event path. The pure-Python source of the (compiled) normalizer must agree too.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest

import pmtape.venues.polymarket.normalize as compiled_normalize
from pmtape.collect.state import VenueBooks
from pmtape.core.book import Book
from pmtape.core.events import BookDelta, BookSnapshot, Event, TopOfBook, Trade
from pmtape.core.instrument import Instrument
from tests.venues.polymarket.util import sim_wire

FIXTURES = Path(__file__).parents[2] / "fixtures" / "polymarket" / "ws"
RECV = 1_790_501_240_000
_encode = msgspec.json.Encoder().encode


def _stream(seed: int) -> tuple[list[bytes], list[str]]:
    """Frames of a market-channel session with faults, and the tokens it is about."""
    rng = random.Random(seed)
    gen, wire, now = sim_wire(seed, 15, trade_ratio=0.1, snapshot_ratio=0.02)
    tokens = [t for m in gen.active_markets for t in m.token_ids]
    frames = [_encode([wire.book(gen.snapshot_of(t, now)) for t in tokens[:10]])]
    frames += [_encode(wire.book(gen.snapshot_of(t, now))) for t in tokens[10:]]
    fixtures = [p.read_bytes() for p in sorted(FIXTURES.glob("*.frame"))]
    for i in range(300):
        msgs: list[Any] = wire.encode(gen.step(now + i, 6))
        while msgs:  # group a few messages into one array frame now and then
            n = rng.choice([1, 1, 1, 2, 3])
            group, msgs = msgs[:n], msgs[n:]
            if rng.random() < 0.2:  # a best_bid_ask before or after, as the venue may send
                top = {"event_type": "best_bid_ask", "asset_id": rng.choice(tokens)}
                top |= {"best_bid": "0.5", "best_ask": "0.51", "timestamp": str(now + i)}
                group.insert(rng.randrange(len(group) + 1), top)
            frames.append(_encode(group if len(group) > 1 else group[0]))
    for fixture in fixtures:  # every edge case once, somewhere in the session
        frames.insert(rng.randrange(len(tokens), len(frames)), fixture)
    return frames, tokens


def _event_path(norm: Any, frames: list[bytes], keys: list[str]) -> dict[str, Any]:
    books = {k: Book(50) for k in keys}
    other: list[Event] = []
    for frame in frames:
        for ev in norm.normalize(frame, RECV):
            book = books.get(getattr(ev, "key", ""))
            if type(ev) is BookDelta and book is not None:
                book.apply_changes(ev.changes, ev.ts_recv_ms, ev.ts_event_ms)
            elif type(ev) is BookSnapshot and book is not None:
                book.apply_snapshot(ev.bids, ev.asks, ev.ts_recv_ms, ev.ts_event_ms)
            else:
                other.append(_with_seq(ev, book))
    return {"books": _state(books), "other": other, "stats": dict(norm.stats)}


def _fused_path(norm: Any, frames: list[bytes], keys: list[str]) -> dict[str, Any]:
    books = {k: Book(50) for k in keys}
    other: list[Event] = []
    for frame in frames:
        for ev in norm.ingest(frame, RECV, books):
            book = books.get(getattr(ev, "key", ""))
            if type(ev) is BookSnapshot and book is not None:
                book.apply_snapshot(ev.bids, ev.asks, ev.ts_recv_ms, ev.ts_event_ms)
            elif type(ev) is BookDelta and book is not None:  # after another event of its frame
                book.apply_changes(ev.changes, ev.ts_recv_ms, ev.ts_event_ms)
            else:
                other.append(_with_seq(ev, book))
    return {"books": _state(books), "other": other, "stats": dict(norm.stats)}


def _with_seq(ev: Event, book: Book | None) -> Any:
    # Trades and tops are checked against the book as it is when they arrive: keep its seq.
    return (ev, None if book is None else (book.seq, book.best_bid(), book.best_ask()))


def _state(books: dict[str, Book]) -> dict[str, Any]:
    return {
        k: (dict(b.bids), dict(b.asks), b.seq, b.snapshots, b.last_recv_ms, b.source_ts_ms)
        for k, b in books.items()
    }


def _python_source_module() -> ModuleType:
    """Load normalize.py as plain Python (the source the extension was compiled from)."""
    path = Path(compiled_normalize.__file__ or "").with_name("normalize.py")
    spec = importlib.util.spec_from_file_location("_pm_normalize_source", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # msgspec resolves the view structs' annotations here
    spec.loader.exec_module(module)
    return module


def test_ingest_changes_books_exactly_as_the_event_path() -> None:
    for seed in (1, 2, 3):
        frames, tokens = _stream(seed)
        kept = tokens[: len(tokens) * 3 // 4]  # the rest have no book: their changes are events
        Norm = compiled_normalize.PolymarketNormalizer
        event = _event_path(Norm(), frames, kept)
        fused = _fused_path(Norm(), frames, kept)
        assert fused["books"] == event["books"]
        assert fused["other"] == event["other"]
        stats = {k: v for k, v in event["stats"].items() if k != "events"}
        assert {k: v for k, v in fused["stats"].items() if k != "events"} == stats
        assert event["stats"]["bad"] > 0
        assert event["stats"]["unknown"] > 0
        assert any(type(ev) is Trade for ev, _ in event["other"])
        assert any(type(ev) is TopOfBook for ev, _ in event["other"])
        assert any(type(ev) is BookDelta for ev, _ in event["other"])  # tokens with no book


def test_the_compiled_normalizer_agrees_with_its_python_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames, tokens = _stream(7)
    source = _python_source_module()
    monkeypatch.setitem(sys.modules, source.__name__, source)
    assert source.__file__ != compiled_normalize.__file__
    compiled = _fused_path(compiled_normalize.PolymarketNormalizer(), frames, tokens[:20])
    plain = _fused_path(source.PolymarketNormalizer(), frames, tokens[:20])
    assert compiled["books"] == plain["books"]
    assert compiled["stats"] == plain["stats"]
    assert [repr(e) for e in compiled["other"]] == [repr(e) for e in plain["other"]]


def test_venue_books_count_changes_of_tokens_they_do_not_keep() -> None:
    frames, tokens = _stream(4)
    state = VenueBooks("polymarket", compiled_normalize.PolymarketNormalizer(), 50, None)
    state.add(
        Instrument(venue="polymarket", market_id="m", instrument_id=t, poll_key=t)
        for t in tokens[:4]
    )
    for frame in frames:
        state.apply_frame(frame, RECV)
    assert state.counters["unrouted_events"] > 0
    assert state.counters["apply_errors"] == 0
    assert all(state.books[t].seq > 0 for t in tokens[:4])
