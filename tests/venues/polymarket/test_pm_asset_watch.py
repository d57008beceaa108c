"""The per-asset watchdog reads the sink's books: which tokens went quiet, which never booked.

It must never decode a frame (the collector already did) and must answer from the same
books the collector keeps, so these tests drive a real ``VenueBooks`` with real frames.
"""

from __future__ import annotations

import msgspec

from pmtape.collect.state import VenueBooks
from pmtape.collect.venue import VenueCollector
from pmtape.core.book import Book
from pmtape.core.instrument import Instrument
from pmtape.net.session import BookWatch
from pmtape.venues.polymarket.normalize import PolymarketNormalizer
from pmtape.venues.polymarket.ws import _AssetWatch

MARKET_A = "0x" + "a" * 64
MARKET_B = "0x" + "b" * 64
A_YES, A_NO, B_YES, B_NO = "11", "12", "21", "22"
QUIET = 10.0


def _books() -> VenueBooks:
    books = VenueBooks("polymarket", PolymarketNormalizer(), 10, None)
    books.add(
        Instrument(venue="polymarket", market_id=m, instrument_id=t, poll_key=t)
        for m, t in ((MARKET_A, A_YES), (MARKET_A, A_NO), (MARKET_B, B_YES), (MARKET_B, B_NO))
    )
    return books


def _book_frame(asset: str, market: str) -> bytes:
    msg = {
        "event_type": "book",
        "asset_id": asset,
        "market": market,
        "bids": [{"price": "0.40", "size": "10"}],
        "asks": [{"price": "0.60", "size": "10"}],
        "timestamp": "1700000000000",
        "hash": "h",
    }
    return msgspec.json.encode(msg)


def _change_frame(asset: str, market: str, size: str) -> bytes:
    msg = {
        "event_type": "price_change",
        "market": market,
        "timestamp": "1700000000000",
        "price_changes": [
            {"asset_id": asset, "price": "0.41", "size": size, "side": "BUY", "hash": "h"}
        ],
    }
    return msgspec.json.encode(msg)


def test_books_count_full_books_apart_from_updates() -> None:
    book = Book(5)
    book.apply_snapshot([(400_000, 1)], [], 1)
    book.apply_changes([(0, 410_000, 2)], 2)
    book.apply_snapshot([(400_000, 1)], [], 3)
    assert (book.snapshots, book.seq) == (2, 3)


def test_the_collectors_books_answer_the_watchdog() -> None:
    # The live collector is the sink the session gets: without these it runs no watchdog.
    assert issubclass(VenueCollector, BookWatch)
    books = _books()
    assert isinstance(books, BookWatch)
    assert books.book_progress(A_YES) == (0, 0)
    books.apply_frame(_book_frame(A_YES, MARKET_A), 1)
    books.apply_frame(_change_frame(A_YES, MARKET_A, "5"), 2)
    assert books.book_progress(A_YES) == (1, 2)
    assert books.market_of(A_YES) == MARKET_A
    assert books.book_progress("unknown") is None
    assert books.market_of("unknown") is None


def test_a_token_quiet_while_its_market_moves_is_silent_once_per_period() -> None:
    books = _books()
    watch = _AssetWatch()
    watch.books = books
    keys = [A_YES, A_NO, B_YES, B_NO]
    for key, market in ((A_YES, MARKET_A), (A_NO, MARKET_A), (B_YES, MARKET_B), (B_NO, MARKET_B)):
        books.apply_frame(_book_frame(key, market), 1)
    assert watch.silent(keys, QUIET, 0.0) == []  # the first scan starts every clock
    now = 0.0
    for step in range(1, 5):  # A_YES keeps moving; A_NO and all of market B go quiet
        now = step * QUIET / 4
        books.apply_frame(_change_frame(A_YES, MARKET_A, str(step)), 2)
        found = watch.silent(keys, QUIET, now)
    # A_NO is silent while its market moved; B's tokens are quiet with their whole market.
    assert found == [A_NO]
    watch.resynced(found, now)
    books.apply_frame(_change_frame(A_YES, MARKET_A, "9"), 3)
    assert watch.silent(keys, QUIET, now + 1) == []  # not again before another quiet period
    books.apply_frame(_change_frame(A_YES, MARKET_A, "8"), 4)
    assert watch.silent(keys, QUIET, now + QUIET) == [A_NO]
    # A fresh book (the resync answered) makes it live again.
    books.apply_frame(_book_frame(A_NO, MARKET_A), 5)
    assert watch.silent(keys, QUIET, now + QUIET + 1) == []


def test_tokens_without_a_book_since_subscribing_are_reported_once() -> None:
    books = _books()
    watch = _AssetWatch()
    watch.books = books
    books.apply_frame(_book_frame(B_YES, MARKET_B), 1)  # booked before: needs a new one
    watch.subscribed([A_YES, A_NO, B_YES], 0.0)
    books.apply_frame(_book_frame(A_YES, MARKET_A), 2)
    assert watch.never_booked(30.0, 29.0) == []
    assert sorted(watch.never_booked(30.0, 30.0)) == [A_NO, B_YES]
    assert watch.never_booked(30.0, 60.0) == []  # once: they are no longer watched


def test_forgotten_tokens_are_not_watched() -> None:
    books = _books()
    watch = _AssetWatch()
    watch.books = books
    watch.subscribed([A_YES], 0.0)
    watch.forget([A_YES])
    assert watch.never_booked(30.0, 31.0) == []


def test_without_books_the_watch_reports_nothing() -> None:
    watch = _AssetWatch()
    watch.subscribed([A_YES], 0.0)
    assert watch.never_booked(1.0, 5.0) == []
    assert watch.silent([A_YES], 1.0, 5.0) == []
