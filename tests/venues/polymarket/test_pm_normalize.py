"""Polymarket normalizer: fixtures against golden events; bad input counted, never raised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmtape.core.book import Book
from pmtape.core.events import (
    BookDelta,
    BookSnapshot,
    BookStale,
    Event,
    MarketStatus,
    TickSize,
    TopOfBook,
    Trade,
)
from pmtape.venues.polymarket.messages import Level as _Lvl
from pmtape.venues.polymarket.messages import book_hash
from pmtape.venues.polymarket.normalize import HASH_MISMATCH, PolymarketNormalizer
from tests.venues.polymarket.util import sim_wire

FIXTURES = Path(__file__).parents[2] / "fixtures" / "polymarket" / "ws"
CASES = sorted(p.name.removesuffix(".frame") for p in FIXTURES.glob("*.frame"))
TYPES: dict[str, type] = {
    t.__name__: t
    for t in (BookSnapshot, BookDelta, Trade, TopOfBook, MarketStatus, TickSize, BookStale)
}
RECV = 1_790_501_240_000
COUNTERS = ("bad", "unknown", "keepalive", "tick_size_change")


def _golden(name: str) -> tuple[bytes, list[Event], dict[str, int]]:
    payload = (FIXTURES / f"{name}.frame").read_bytes()
    expected = json.loads((FIXTURES / f"{name}.expected.json").read_text())
    events = []
    for raw in expected["events"]:
        fields: dict[str, Any] = {k: v for k, v in raw.items() if k != "type"}
        events.append(msgspec.convert({**fields, "ts_recv_ms": RECV}, TYPES[raw["type"]]))
    return payload, events, expected["stats"]


def test_every_acceptance_edge_has_a_fixture() -> None:
    wanted = {
        "array_wrapped_burst",
        "book_empty",
        "book_one_sided",
        "price_change_two_assets",
        "book_best_last",
        "book_missing_hash",
        "price_change_legacy_format",
        "unknown_event_type",
        "malformed_json",
        "price_change_price_outside_unit_interval",
        "price_change_negative_size",
        "price_change_non_numeric_size",
        "tick_size_change",
        "last_trade_price",
        "best_bid_ask",
        "new_market",
        "market_resolved_slim",
    }
    assert wanted <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_fixture_normalizes_to_its_golden_events(name: str) -> None:
    payload, events, stats = _golden(name)
    norm = PolymarketNormalizer()
    assert norm.normalize(payload, RECV) == events
    for counter in COUNTERS:
        assert norm.stats[counter] == stats.get(counter, 0), counter
    assert norm.stats["frames"] == 1
    assert norm.stats["events"] == len(events)


def _books_after(*names: str) -> dict[str, Book]:
    norm = PolymarketNormalizer()
    books: dict[str, Book] = {}
    for name in names:
        payload = (FIXTURES / f"{name}.frame").read_bytes()
        for ev in norm.normalize(payload, RECV):
            book = books.setdefault(ev.key, Book())  # type: ignore[union-attr]
            if isinstance(ev, BookSnapshot):
                book.apply_snapshot(ev.bids, ev.asks, RECV, ev.ts_event_ms)
            elif isinstance(ev, BookDelta):
                book.apply_changes(ev.changes, RECV, ev.ts_event_ms)
    return books


def _levels(book: Book) -> tuple[dict[int, int], dict[int, int]]:
    return dict(book.bids), dict(book.asks)


@pytest.mark.parametrize(
    "bad",
    [
        "book_price_outside_unit_interval",
        "book_negative_size",
        "price_change_price_outside_unit_interval",
        "price_change_negative_size",
        "price_change_non_numeric_size",
        "price_change_bad_side",
        "price_change_numbers_not_strings",
        "malformed_json",
        "unknown_event_type",
    ],
)
def test_bad_input_leaves_the_book_untouched(bad: str) -> None:
    key = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
    before = _levels(_books_after("book_best_last")[key])
    after = _levels(_books_after("book_best_last", bad)[key])
    assert after == before


def test_size_zero_deletes_a_level_and_best_is_computed_not_read_from_an_end() -> None:
    books = _books_after("book_best_last", "price_change_two_assets")
    key = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
    book = books[key]
    # The wire listed the best bid LAST; a new better bid at 0.615 now leads.
    assert book.best_bid() == (615_000, 140_000_000)
    assert book.best_ask() == (616_000, 95_100_000)
    gone = _books_after("book_best_last", "price_change_same_asset_grouped")[key]
    assert 620_000 not in gone.asks


def test_frames_from_the_fake_wire_rebuild_the_generators_true_books() -> None:
    gen, wire, now = sim_wire(5, 12, trade_ratio=0.1, snapshot_ratio=0.01)
    encode = msgspec.json.Encoder().encode
    tokens = [t for m in gen.active_markets for t in m.token_ids]
    frames = [encode([wire.book(gen.snapshot_of(t, now)) for t in tokens])]
    for i in range(40):
        frames += [encode(m) for m in wire.encode(gen.step(now + i, 50))]
    norm = PolymarketNormalizer()
    books: dict[str, Book] = {}
    trades = 0
    for frame in frames:
        for ev in norm.normalize(frame, RECV):
            if isinstance(ev, BookSnapshot):
                books.setdefault(ev.key, Book(1000)).apply_snapshot(ev.bids, ev.asks, RECV)
            elif isinstance(ev, BookDelta):
                books[ev.key].apply_changes(ev.changes, RECV)
            elif isinstance(ev, Trade):
                trades += 1
    assert norm.stats["bad"] == norm.stats["unknown"] == 0
    assert trades > 0
    for token in tokens:
        bids, asks = gen.true_book(token)
        book = books[token]
        assert [(p, book.bids[p]) for p in book.bid_prices()] == bids
        assert [(p, book.asks[p]) for p in book.ask_prices()] == asks


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "event_type",
                    "asset_id",
                    "price",
                    "size",
                    "side",
                    "bids",
                    "asks",
                    "price_changes",
                    "changes",
                    "timestamp",
                    "assets_ids",
                    "id",
                    "market",
                    "best_bid",
                    "best_ask",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json, st.sampled_from(["book", "price_change", "best_bid_ask", "new_market", None]))
def test_any_json_is_counted_never_raised(value: Any, kind: str | None) -> None:
    if isinstance(value, dict) and kind is not None:
        value = {**value, "event_type": kind}
    norm = PolymarketNormalizer()
    events = norm.normalize(msgspec.json.encode(value), RECV)
    assert norm.stats["events"] == len(events)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_are_counted_never_raised(payload: bytes) -> None:
    norm = PolymarketNormalizer()
    norm.normalize(payload, RECV)
    assert norm.stats["frames"] == 1


def _hashed_book(frame: str, *, wrong: bool) -> tuple[bytes, str]:
    """A fixture's book with its real hash (or a wrong one); return it and its token."""
    msg = json.loads((FIXTURES / f"{frame}.frame").read_bytes())
    if wrong:
        msg["hash"] = "0" * 40
    return json.dumps(msg, separators=(",", ":")).encode(), msg["asset_id"]


def test_a_book_hash_is_checked_and_a_mismatch_marks_the_book_stale() -> None:
    good, token = _hashed_book("book_best_last", wrong=False)
    bad, _ = _hashed_book("book_best_last", wrong=True)
    for scan in (True, False):
        norm = PolymarketNormalizer(scan=scan)
        (snap,) = norm.normalize(bad, RECV)
        assert isinstance(snap, BookSnapshot)
        assert snap.stale_reason == HASH_MISMATCH
        book = Book(10)
        books = {token: book}
        assert norm.ingest(bad, RECV, books) == []
        assert book.stale_reason == HASH_MISMATCH
        assert norm.ingest(good, RECV, books) == []  # a good snapshot clears it
        assert book.stale_reason is None
        assert book.snapshots == 2
        assert (norm.stats["hash_ok"], norm.stats["hash_mismatch"]) == (1, 2)
        assert norm.stats["hash_assumed_defaults"] == 3


def test_a_rest_body_teaches_the_market_settings_of_the_channel_books() -> None:
    norm = PolymarketNormalizer()
    body = json.loads((FIXTURES / "rest_book_body.frame").read_bytes())
    (rest,) = norm.normalize(json.dumps(body).encode(), RECV)
    assert isinstance(rest, BookSnapshot)
    assert rest.stale_reason is None
    assert (norm.stats["hash_ok"], norm.stats["hash_assumed_defaults"]) == (1, 0)
    # The channel's book of that token: no min_order_size/neg_risk of its own.
    msg = {k: v for k, v in body.items() if k not in ("min_order_size", "neg_risk")}
    msg["event_type"] = "book"
    levels = [[_Lvl(**lv) for lv in msg[side]] for side in ("bids", "asks")]
    fields = [msg["market"], msg["asset_id"], msg["timestamp"], *levels]
    extra = [msg["tick_size"], body["neg_risk"], msg["last_trade_price"]]
    msg["hash"] = book_hash(*fields, body["min_order_size"], *extra)
    (snap,) = norm.normalize(json.dumps(msg).encode(), RECV)
    assert snap.stale_reason is None  # hashed with what the REST body stated
    norm.set_market_info(rest.key, body["min_order_size"] + "0", not body["neg_risk"])
    (snap,) = norm.normalize(json.dumps(msg).encode(), RECV)
    assert snap.stale_reason == HASH_MISMATCH
    assert (norm.stats["hash_ok"], norm.stats["hash_mismatch"]) == (2, 1)
    assert norm.stats["hash_assumed_defaults"] == 0
