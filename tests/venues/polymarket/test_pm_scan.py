"""The compiled scanner of plain ``price_change`` frames answers exactly as the general path.

``scan.price_change`` applies the one frame shape that is most of the market channel straight
from its bytes, or declines (-1, nothing changed) and leaves the frame to msgspec. These
tests hold it to that contract: it takes the frames the venue (and the fake) sends, whatever
their key order or whitespace; it declines every shape it must leave alone without touching a
book; over generated streams of plain and mutated frames a normalizer with the scanner and one
without return the same events and counters and leave the same books; and its numbers are
``parse_e6_plain``'s.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pmtape.core.book import Book
from pmtape.core.events import ASK, BID, BookDelta, Event, TopOfBook
from pmtape.core.fixed import parse_e6_plain
from pmtape.native import module_status
from pmtape.venues.polymarket.fake.wire import corrupt_hash
from pmtape.venues.polymarket.messages import BestBidAskMsg, Level, PriceChangeMsg, book_hash
from pmtape.venues.polymarket.normalize import PolymarketNormalizer
from pmtape.venues.polymarket.scan import price_change
from tests.venues.polymarket.util import sim_wire

FIXTURES = Path(__file__).parents[2] / "fixtures" / "polymarket" / "ws"
RECV = 1_790_501_240_000
STAMP = 1_767_225_600_001
MARKET = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1"
HASH = "8d3c4f2a9b1e0d7c6a5f4e3d2c1b0a9f8e7d6c5b"
# 77-digit token ids, as the venue's: A and B have books, X and Y do not.
TOKEN_A = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
TOKEN_B = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
TOKEN_X = "21742633143463906290569050155826241533067272736897614950488156847949938836455"
TOKEN_Y = "48331043336612883890938759509493159234755048973500640148014422747788308965732"
INITIAL: dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {
    TOKEN_A: ([(530_000, 10_000_000), (520_000, 5_000_000)], [(540_000, 57_990_000)]),
    TOKEN_B: ([(470_000, 2_000_000)], [(480_000, 1_500_000), (550_000, 100_000_000)]),
}
_encode = msgspec.json.Encoder().encode

State = dict[str, tuple[dict[int, int], dict[int, int], tuple[int, int], Any, Any, Any]]


def _books() -> dict[str, Book]:
    """Fresh books of A and B with the same initial levels; B marked stale (it must stay so)."""
    books: dict[str, Book] = {}
    for key, (bids, asks) in INITIAL.items():
        book = Book(50)
        book.apply_snapshot(bids, asks, RECV - 1_000, STAMP - 1_000)
        books[key] = book
    books[TOKEN_B].mark_stale("test: a gap")
    return books


def _state(books: dict[str, Book]) -> State:
    # test_pm_ingest's _state leaves out stale_reason, which the scanner must not touch either.
    return {
        k: (
            dict(b.bids),
            dict(b.asks),
            (b.seq, b.snapshots),
            b.last_recv_ms,
            b.source_ts_ms,
            b.stale_reason,
        )
        for k, b in books.items()
    }


def _item(token: str, price: str, size: str, side: str) -> dict[str, str]:
    """One item as the venue (and the fake) sends it, best bid/ask after it included."""
    return {
        "asset_id": token,
        "price": price,
        "size": size,
        "side": side,
        "hash": HASH,
        "best_bid": "0.53",
        "best_ask": "0.54",
    }


def _frame(items: list[dict[str, str]], timestamp: str = str(STAMP)) -> bytes:
    """A compact current-format price_change frame, keys in the venue's order."""
    msg = {"event_type": "price_change", "market": MARKET, "price_changes": items}
    return json.dumps({**msg, "timestamp": timestamp}, separators=(",", ":")).encode()


def _ingest(
    norm: PolymarketNormalizer, frame: bytes, ts_recv_ms: int, books: dict[str, Book]
) -> list[Event]:
    return norm.ingest(frame, ts_recv_ms, books)  # never raises, whatever the bytes


def _both(frames: list[bytes]) -> None:
    """Feed ``frames`` to a normalizer with the scanner and one without; all must agree."""
    _both_informed(frames, {})


# -- 1. the plain frames the venue sends are taken ------------------------------------------------

PLAIN_ITEMS = [
    _item(TOKEN_A, "0.54", "12.5", "SELL"),  # an existing ask resized
    _item(TOKEN_A, "0.53", "0", "BUY"),  # size "0" removes the level
    _item(TOKEN_X, "0.6", "1", "SELL"),  # a token without a book: a BookDelta
    _item(TOKEN_B, "0.47", "3", "BUY"),
    _item(TOKEN_B, "0.49", "7.25", "sell"),
]


def _check_plain_applied(touched: int, books: dict[str, Book], out: list[Event]) -> None:
    a, b = books[TOKEN_A], books[TOKEN_B]
    assert touched == 2
    assert out == [BookDelta(TOKEN_X, [(ASK, 600_000, 1_000_000)], STAMP, RECV)]
    assert a.bids == {520_000: 5_000_000}
    assert a.asks == {540_000: 12_500_000}
    assert b.bids == {470_000: 3_000_000}
    assert b.asks == {480_000: 1_500_000, 490_000: 7_250_000, 550_000: 100_000_000}
    for book in (a, b):
        assert book.seq == 2  # the snapshot, then one touch for the run of its items
        assert book.last_recv_ms == RECV
        assert book.source_ts_ms == STAMP
    assert a.stale_reason is None
    assert b.stale_reason == "test: a gap"


def test_the_normalizer_with_scan_runs_the_compiled_scanner() -> None:
    assert module_status("pmtape.venues.polymarket.scan") == "compiled"
    assert PolymarketNormalizer(scan=True)._scan is price_change
    assert PolymarketNormalizer(scan=False)._scan is None


def test_a_plain_frame_is_applied_to_the_books() -> None:
    books: dict[str, Book] = _books()
    out: list[Event] = []
    touched = price_change(_frame(PLAIN_ITEMS), RECV, books, out)
    _check_plain_applied(touched, books, out)


@pytest.mark.parametrize("indent", [None, 0, 2, "\t", "\r\n"])
@pytest.mark.parametrize("reverse", [False, True])
def test_key_order_and_whitespace_do_not_matter(indent: int | str | None, reverse: bool) -> None:
    def order(obj: dict[str, Any]) -> dict[str, Any]:
        return dict(reversed(obj.items())) if reverse else obj

    items = [order(it) for it in PLAIN_ITEMS]
    msg = order({"event_type": "price_change", "market": MARKET, "price_changes": items})
    text = json.dumps({**msg, "timestamp": STAMP}, indent=indent)  # a number stamp, too
    if indent == "\r\n":
        text = text.replace("\n", "\r\n") + " \t\r\n"  # trailing whitespace is fine
    books = _books()
    out: list[Event] = []
    touched = price_change((" \n" + text).encode(), RECV, books, out)
    _check_plain_applied(touched, books, out)


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [('"1767225600001"', STAMP), ("1767225600001", STAMP), ("null", None), ('"0"', 0)],
)
def test_stamps_as_strings_numbers_or_null(stamp: str, expected: int | None) -> None:
    text = _frame(PLAIN_ITEMS[:1]).replace(b'"' + str(STAMP).encode() + b'"', stamp.encode())
    books = _books()
    out: list[Event] = []
    assert price_change(text, RECV, books, out) == 1
    assert books[TOKEN_A].source_ts_ms == (STAMP - 1_000 if expected is None else expected)
    _both([text])


def test_every_price_change_of_the_fake_venue_is_taken() -> None:
    gen, wire, now = sim_wire(5, 15, trade_ratio=0.1, snapshot_ratio=0.02)
    for token in [t for m in gen.active_markets for t in m.token_ids]:
        wire.book(gen.snapshot_of(token, now))
    frames = [_encode(msg) for i in range(200) for msg in wire.encode(gen.step(now + i, 6))]
    plain = [f for f in frames if msgspec.json.decode(f)["event_type"] == "price_change"]
    assert len(plain) > 100
    for frame in plain:
        assert price_change(frame, RECV, {}, []) >= 0, frame
    _both(frames + [p.read_bytes() for p in sorted(FIXTURES.glob("*.frame"))])


def test_a_long_message_is_taken() -> None:
    items = [_item(TOKEN_A, f"0.{i % 90 + 10}", str(i), "BUY") for i in range(1000)]
    books = _books()
    assert price_change(_frame(items), RECV, books, []) == 1
    assert len(books[TOKEN_A].bids) == 90
    _both([_frame(items)])


def test_a_burst_array_is_taken_in_order_and_agrees_with_the_general_path() -> None:
    first = _frame([_item(TOKEN_A, "0.54", "10", "SELL")])
    second = _frame([_item(TOKEN_A, "0.54", "0", "SELL"), _item(TOKEN_B, "0.47", "3", "BUY")])
    burst = b"[" + first + b", " + second + b"]"
    books = _books()
    before = books[TOKEN_A].seq
    assert price_change(burst, RECV, books, []) == 3  # A, then A and B
    assert 540_000 not in books[TOKEN_A].asks  # the second message removed the first's level
    assert books[TOKEN_A].seq == before + 2
    _both([burst, b"[" + second + b"," + first + b"]"])


def test_a_burst_turns_to_events_once_a_token_without_a_book_shows() -> None:
    unknown = "9" * 77
    burst = (
        b"["
        + _frame([_item(unknown, "0.5", "1", "BUY")])
        + b","
        + _frame([_item(TOKEN_A, "0.54", "10", "SELL")])
        + b"]"
    )
    books = _books()
    seq = books[TOKEN_A].seq
    out: list[Event] = []
    assert price_change(burst, RECV, books, out) == 0
    assert [e.key for e in out] == [unknown, TOKEN_A]  # type: ignore[union-attr]
    assert books[TOKEN_A].seq == seq  # the caller applies the events, in order
    _both([burst])


def _book_msg(
    token: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], *, hashed: bool = False
) -> bytes:
    msg = {
        "event_type": "book",
        "asset_id": token,
        "market": MARKET,
        "bids": [{"price": p, "size": z} for p, z in bids],
        "asks": [{"price": p, "size": z} for p, z in asks],
        "timestamp": str(STAMP),
    }
    if hashed:  # some live books lack it; one with it is the general path's to check
        msg["hash"] = HASH
    return json.dumps(msg, separators=(",", ":")).encode()


def test_a_book_with_a_hash_is_left_to_the_general_path() -> None:
    frame = _book_msg(TOKEN_B, [("0.40", "1")], [("0.60", "2")], hashed=True)
    books = _books()
    before = _state(books)
    assert price_change(frame, RECV, books, []) == -1
    assert price_change(b"[" + _top(TOKEN_A) + b"," + frame + b"]", RECV, books, []) == -1
    assert _state(books) == before
    _both([frame])


def test_a_book_of_a_kept_token_replaces_it_in_place() -> None:
    # Best at the end, a price twice (the last word wins, and a last 0 removes it).
    bids = [("0.30", "1"), ("0.45", "2"), ("0.40", "3"), ("0.45", "4"), ("0.35", "5")]
    bids += [("0.30", "0"), ("0.46", "6")]
    asks = [("0.70", "1"), ("0.55", "2"), ("0.60", "0"), ("0.55", "3"), ("0.50", "7")]
    frame = _book_msg(TOKEN_B, bids, asks)  # B is stale: a full book clears that
    books = _books()
    out: list[Event] = []
    assert price_change(frame, RECV, books, out) == 1
    assert out == []
    b = books[TOKEN_B]
    assert b.bid_prices() == [460_000, 450_000, 400_000, 350_000]
    assert dict(b.bids) == {460_000: 6e6, 450_000: 4e6, 400_000: 3e6, 350_000: 5e6}
    assert b.ask_prices() == [500_000, 550_000, 700_000]
    assert dict(b.asks) == {500_000: 7e6, 550_000: 3e6, 700_000: 1e6}
    assert (b.snapshots, b.stale_reason, b.source_ts_ms) == (2, None, STAMP)
    # A token without a book, or a book after a pending event, comes back as an event.
    later = b"[" + _top(TOKEN_A) + b"," + frame + b"," + _book_msg(TOKEN_X, bids, asks) + b"]"
    out = []
    assert price_change(later, RECV, _books(), out) == 0
    assert [type(e).__name__ for e in out] == ["TopOfBook", "BookSnapshot", "BookSnapshot"]
    _both([frame, later, b"[" + frame + b"," + _book_msg(TOKEN_A, asks, bids) + b"]"])


def _top(token: str = TOKEN_A, bid: str = "0.53", ask: str = "0.54") -> bytes:
    """A best_bid_ask message as the venue sends it (with ``custom_feature_enabled``)."""
    msg = {
        "event_type": "best_bid_ask",
        "market": MARKET,
        "asset_id": token,
        "best_bid": bid,
        "best_ask": ask,
        "spread": "0.01",
        "timestamp": str(STAMP),
    }
    return json.dumps(msg, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    ("bid", "ask", "want_bid", "want_ask"),
    [
        ("0.53", "0.54", 530_000, 540_000),
        ("0", "0.54", None, 540_000),  # the venue's "no bid"
        ("0.53", "1", 530_000, None),  # and "no ask"
        ("0", "1", None, None),
        (".5", "00.6", 500_000, 600_000),
    ],
)
def test_best_bid_ask_becomes_the_top_of_book_the_general_path_makes(
    bid: str, ask: str, want_bid: int | None, want_ask: int | None
) -> None:
    books = _books()
    before = _state(books)
    out: list[Event] = []
    assert price_change(_top(bid=bid, ask=ask), RECV, books, out) == 0
    assert out == [TopOfBook(TOKEN_A, want_bid, None, want_ask, None, STAMP, RECV)]
    assert _state(books) == before  # a cross-check only: the books are not touched
    _both([_top(bid=bid, ask=ask)])


def test_a_burst_of_changes_and_best_bid_ask_applies_the_changes_then_checks() -> None:
    change = _frame([_item(TOKEN_A, "0.54", "0", "SELL"), _item(TOKEN_B, "0.47", "3", "BUY")])
    burst = b"[" + change + b"," + _top(TOKEN_A, "0.53", "1") + b"," + _top(TOKEN_B) + b"]"
    books = _books()
    out: list[Event] = []
    assert price_change(burst, RECV, books, out) == 2  # the changes went straight in...
    assert [type(e) for e in out] == [TopOfBook, TopOfBook]  # ...the checks come back
    assert books[TOKEN_A].asks == {}
    # Once a check is pending, later changes come back as events, in order.
    later = b"[" + _top(TOKEN_B) + b"," + change + b"]"
    out = []
    assert price_change(later, RECV, _books(), out) == 0
    assert [type(e) for e in out] == [TopOfBook, BookDelta, BookDelta]
    _both([burst, later])


# -- 2. everything else is declined, untouched ----------------------------------------------------

BASE = _frame([_item(TOKEN_A, "0.54", "57.99", "SELL"), _item(TOKEN_B, "0.47", "3", "BUY")])
_A = TOKEN_A.encode()


def _sub(old: bytes, new: bytes, base: bytes = BASE) -> bytes:
    assert old in base, old
    return base.replace(old, new, 1)


def _legacy() -> bytes:
    changes = [{"price": "0.54", "size": "57.99", "side": "SELL"}]
    msg = {"event_type": "price_change", "asset_id": TOKEN_A, "market": MARKET, "hash": HASH}
    return json.dumps({**msg, "timestamp": str(STAMP), "changes": changes}).encode()


DECLINED: dict[str, bytes] = {
    "empty array": b"[]",
    "size past a 64-bit e6": _sub(b'"57.99"', b'"10000000000000"'),
    "size past a 64-bit e6, exponent": _sub(b'"57.99"', b'"1e30"'),
    "array with a trailing comma": b"[" + BASE + b",]",
    "array holding a book": b"[" + BASE + b',{"event_type":"book"}]',
    "legacy": _legacy(),
    "legacy asset_id beside price_changes": _sub(b'"market"', b'"asset_id":"' + _A + b'","market"'),
    "legacy changes beside price_changes": _sub(b'"market"', b'"changes":[],"market"'),
    "book": _sub(b'"price_change"', b'"book"'),
    "last_trade_price": _sub(b'"price_change"', b'"last_trade_price"'),
    "no event_type": _sub(b'"event_type":"price_change",', b""),
    "no price_changes": b'{"event_type":"price_change","timestamp":"1"}',
    "price_changes null": b'{"event_type":"price_change","price_changes":null}',
    "escape in a value": _sub(b'"0.54"', b'"0\\u002e54"'),
    "escaped slash": _sub(MARKET.encode(), b"0x\\/"),
    "escape in a key": _sub(b'"price"', b'"pric\\u0065"'),
    "escape in the token id": _sub(_A, b"\\u0037" + _A[1:]),
    "non-ASCII in a value": _sub(MARKET.encode(), "0x\u00e9".encode()),
    "non-ASCII in a key": _sub(b'"market"', '"m\u00e4rket"'.encode()),
    "raw control character": _sub(MARKET.encode(), b"0x\t1"),
    "number value": _sub(b'"market"', b'"x":1,"market"'),
    "null value": _sub(b'"market"', b'"x":null,"market"'),
    "object value": _sub(b'"market"', b'"x":{},"market"'),
    "number value in an item": _sub(b'"hash"', b'"x":1,"hash"'),
    "null hash in an item": _sub(b'"hash":"' + HASH.encode() + b'"', b'"hash":null'),
    "price 0": _sub(b'"0.54"', b'"0"'),
    "price 1": _sub(b'"0.54"', b'"1"'),
    "price 1.5": _sub(b'"0.54"', b'"1.5"'),
    "price -0.1": _sub(b'"0.54"', b'"-0.1"'),
    "price 1e-3": _sub(b'"0.54"', b'"1e-3"'),
    "price rounding to 0": _sub(b'"0.54"', b'"0.0000004"'),
    "price rounding to 1": _sub(b'"0.54"', b'"0.9999995"'),
    "price with a space": _sub(b'"0.54"', b'" 0.54"'),
    "price +": _sub(b'"0.54"', b'"+0.54"'),
    "price empty": _sub(b'"0.54"', b'""'),
    "price dot": _sub(b'"0.54"', b'"."'),
    "price number": _sub(b'"0.54"', b"0.54"),
    "size -1": _sub(b'"57.99"', b'"-1"'),
    "size 1e3": _sub(b'"57.99"', b'"1e3"'),
    "size over 12 digits": _sub(b'"57.99"', b'"1234567890123"'),
    "side buy?": _sub(b'"SELL"', b'"buy?"'),
    "side Sell": _sub(b'"SELL"', b'"Sell"'),
    "no side": _sub(b',"side":"SELL"', b""),
    "no price": _sub(b'"price":"0.54",', b""),
    "no size": _sub(b'"size":"57.99",', b""),
    "no asset_id": _sub(b'"asset_id":"' + _A + b'",', b""),
    "empty asset_id": _sub(_A, b""),
    "empty item": _sub(b"[{", b"[{},{"),
    "item not an object": _sub(b"[{", b'["x",{'),
    "trailing comma in an item": _sub(b'"best_ask":"0.54"}', b'"best_ask":"0.54",}'),
    "trailing comma in the list": _sub(b"}]", b"},]"),
    "trailing comma at the top": BASE[:-1] + b",}",
    "duplicate event_type": _sub(b'"market"', b'"event_type":"price_change","market"'),
    "duplicate timestamp": _sub(b'"market"', b'"timestamp":"1","market"'),
    "duplicate price_changes": _sub(b'"market"', b'"price_changes":[],"market"'),
    "duplicate asset_id": _sub(b'"price":"0.54"', b'"asset_id":"' + _A + b'","price":"0.54"'),
    "duplicate price": _sub(b'"size":"57.99"', b'"price":"0.54","size":"57.99"'),
    "duplicate size": _sub(b'"side":"SELL"', b'"size":"1","side":"SELL"'),
    "duplicate side": _sub(b'"hash"', b'"side":"SELL","hash"'),
    "trailing garbage": BASE + b"x",
    "trailing brace": BASE + b"}",
    "trailing object": BASE + b" {}",
    "trailing NUL": BASE + b"\x00",
    "timestamp 0123": _sub(b'"1767225600001"', b'"0123"'),
    "timestamp number 0123": _sub(b'"1767225600001"', b"0123"),
    "timestamp abc": _sub(b'"1767225600001"', b'"abc"'),
    "timestamp empty": _sub(b'"1767225600001"', b'""'),
    "timestamp negative": _sub(b'"1767225600001"', b"-1"),
    "timestamp float": _sub(b'"1767225600001"', b"1767225600001.5"),
    "timestamp exponent": _sub(b'"1767225600001"', b'"1e3"'),
    "timestamp 19 digits": _sub(b'"1767225600001"', b'"1234567890123456789"'),
    "timestamp true": _sub(b'"1767225600001"', b"true"),
    "timestamp nul": _sub(b'"1767225600001"', b"nul"),
    "empty": b"",
    "whitespace": b" \n",
    "empty object": b"{}",
    # best_bid_ask: anything but a plain price, or the venue's "0"/"1", goes the general way
    "best_bid 0.0": _sub(b'"0.53"', b'"0.0"', _top()),
    "best_ask 1.0": _sub(b'"best_ask":"0.54"', b'"best_ask":"1.0"', _top()),
    "best_bid 1": _sub(b'"0.53"', b'"1"', _top()),
    "best_ask 0": _sub(b'"best_ask":"0.54"', b'"best_ask":"0"', _top()),
    "best_bid 5e-1": _sub(b'"0.53"', b'"5e-1"', _top()),
    "best_bid empty": _sub(b'"0.53"', b'""', _top()),
    "best_bid number": _sub(b'"0.53"', b"0.53", _top()),
    "best_bid null": _sub(b'"0.53"', b"null", _top()),
    "best_ask abc": _sub(b'"best_ask":"0.54"', b'"best_ask":"abc"', _top()),
    "no best_bid": _sub(b'"best_bid":"0.53",', b"", _top()),
    "no best_ask": _sub(b'"best_ask":"0.54",', b"", _top()),
    "best_bid_ask without asset_id": _sub(b'"asset_id":"' + _A + b'",', b"", _top()),
    "best_bid_ask empty asset_id": _sub(_A, b"", _top()),
    "duplicate best_bid": _sub(b'"spread"', b'"best_bid":"0.5","spread"', _top()),
    "duplicate best_ask": _sub(b'"spread"', b'"best_ask":"0.6","spread"', _top()),
    "best_bid_ask spread number": _sub(b'"0.01"', b"0.01", _top()),
}


def test_the_base_of_the_declined_cases_is_taken() -> None:
    assert price_change(BASE, RECV, _books(), []) == 2


@pytest.mark.parametrize("frame", DECLINED.values(), ids=DECLINED.keys())
def test_declined_frames_change_nothing(frame: bytes) -> None:
    books = _books()
    before = _state(books)
    out: list[Event] = []
    assert price_change(frame, RECV, books, out) == -1
    assert out == []
    assert _state(books) == before
    _both([frame])  # and the general path decides for both normalizers alike


def test_every_truncation_is_declined() -> None:
    books = _books()
    before = _state(books)
    out: list[Event] = []
    for cut in range(len(BASE)):
        assert price_change(BASE[:cut], RECV, books, out) == -1, BASE[:cut]
    assert out == []
    assert _state(books) == before
    _both([BASE[:cut] for cut in range(0, len(BASE), 7)])


# -- 3. generated frames: the scanner and the general path agree ----------------------------------

Pairs = list[tuple[str, str]]  # an object's (key, value) pairs, both as JSON text

WS = ["", "", "", " ", "\n", "\t", "\r\n  "]
GOOD_PRICES = ["0.01", "0.47", "0.48", "0.52", "0.53", "0.54", "0.55", "0.999", ".5", "00.46"]
GOOD_SIZES = ["0", "0", "1", "3", "57.99", "100.5", "0.000001", "12345678.1234565", "0.0", "5."]
GOOD_SIDES = ["BUY", "SELL", "buy", "sell"]
BAD_PRICES = ["0", "1", "1.5", "-0.1", "1e-3", "", " 0.5", "+0.5", "0.0000004", "0.9999995",
              "abc", ".", "0,5", "NaN", "Infinity", "1234567890123.5", "5e-1", "0.5 "]  # fmt: skip
BAD_SIZES = ["-1", "1e3", "", ".", " 1", "1,5", "inf", "10000000000000", "-0", "+2", "2E0"]
BAD_SIDES = ["buy?", "Buy", "", "BID", "sell ", "ASK"]
BAD_STAMPS = ['"0123"', '"abc"', '""', "-5", "1.5", '"1e3"', '" 12"', '"-1"', '"+1"', "true",
              '"1234567890123456789"', "12345678901234567890", "0123", "[]", '"null"']  # fmt: skip
NON_STRINGS = ["1", "null", "true", "false", "[]", "{}", "1.5", '["a"]', '{"a":"b"}', "-0"]
OTHER_TYPES = ["book", "last_trade_price", "tick_size_change", "best_bid_ask", "new_market",
               "market_resolved", "surprise", "Price_change", ""]  # fmt: skip
TOKENS = [TOKEN_A, TOKEN_A, TOKEN_B, TOKEN_X, TOKEN_Y]
FIELDS = ["asset_id", "price", "size", "side"]
SMALL_ITEM = [('"price"', '"0.5"'), ('"size"', '"1"'), ('"side"', '"BUY"')]
ITEM_MUTATIONS = {
    "bad_price", "bad_size", "bad_side", "drop_field", "empty_id", "dup_field",
    "item_non_string", "item_escape", "item_non_ascii",
}  # fmt: skip
MUTATIONS = ["none"] * 16 + sorted(ITEM_MUTATIONS) + [
    # the top level
    "bad_stamp", "top_non_string", "dup_top", "legacy_beside", "legacy", "other_type",
    "no_type", "no_list", "list_null", "top_escape", "top_non_ascii",
    # the bytes
    "array", "array2", "garbage", "truncate", "flip", "flip", "many",
]  # fmt: skip


def _q(text: str) -> str:
    return json.dumps(text)


def _escape(draw: st.DrawFn, value: str) -> str:
    """A JSON string text with one character written as an escape (same decoded string)."""
    body = value[1:-1]
    if not body:
        return '"\\/"'
    at = draw(st.integers(0, len(body) - 1))
    return '"' + body[:at] + f"\\u{ord(body[at]):04x}" + body[at + 1 :] + '"'


def _obj(draw: st.DrawFn, pairs: Pairs) -> str:
    ws = st.sampled_from(WS)
    body = ",".join(f"{draw(ws)}{k}{draw(ws)}:{draw(ws)}{v}{draw(ws)}" for k, v in pairs)
    return "{" + (body or draw(ws)) + "}"


@st.composite
def _items(draw: st.DrawFn) -> list[Pairs]:
    items: list[Pairs] = []
    for token in draw(st.lists(st.sampled_from(TOKENS), max_size=6)):  # runs like A,A,B,A
        pairs = [
            ('"asset_id"', _q(token)),
            ('"price"', _q(draw(st.sampled_from(GOOD_PRICES)))),
            ('"size"', _q(draw(st.sampled_from(GOOD_SIZES)))),
            ('"side"', _q(draw(st.sampled_from(GOOD_SIDES)))),
        ]
        if draw(st.booleans()):  # the fields the venue adds, which nobody reads
            pairs += [('"hash"', _q(HASH)), ('"best_bid"', '"0.53"'), ('"best_ask"', '"0.54"')]
        items.append(draw(st.permutations(pairs)))
    return items


def _mutate_item(draw: st.DrawFn, mutation: str, items: list[Pairs]) -> None:
    pairs = items[draw(st.integers(0, len(items) - 1))]
    field = f'"{draw(st.sampled_from(FIELDS))}"'
    at = next((i for i, (k, _) in enumerate(pairs) if k == field), 0)
    if mutation == "bad_price":
        pairs[:] = [(k, _q(draw(st.sampled_from(BAD_PRICES))) if k == '"price"' else v)
                    for k, v in pairs]  # fmt: skip
    elif mutation == "bad_size":
        pairs[:] = [(k, _q(draw(st.sampled_from(BAD_SIZES))) if k == '"size"' else v)
                    for k, v in pairs]  # fmt: skip
    elif mutation == "bad_side":
        pairs[:] = [(k, _q(draw(st.sampled_from(BAD_SIDES))) if k == '"side"' else v)
                    for k, v in pairs]  # fmt: skip
    elif mutation == "drop_field":
        del pairs[at]
    elif mutation == "empty_id":
        pairs[:] = [(k, '""' if k == '"asset_id"' else v) for k, v in pairs]
    elif mutation == "dup_field":
        again = draw(st.sampled_from([pairs[at][1], '"0.5"', '"1"', '"BUY"', _q(TOKEN_B)]))
        pairs.insert(draw(st.integers(0, len(pairs))), (pairs[at][0], again))
    elif mutation == "item_non_string":
        value = draw(st.sampled_from(NON_STRINGS))
        pairs.insert(draw(st.integers(0, len(pairs))), ('"x"', value))
    elif mutation == "item_escape":  # msgspec reads it as the same text; the scanner declines
        k, v = pairs[at]
        pairs[at] = (_escape(draw, k), v) if draw(st.booleans()) else (k, _escape(draw, v))
    elif mutation == "item_non_ascii":
        pairs.append(('"note"', draw(st.sampled_from(['"\u00e9"', '"\u20ac5"', '"\U0001f600"']))))


def _mutate_top(draw: st.DrawFn, mutation: str, top: Pairs) -> Pairs:
    if mutation == "bad_stamp":
        stamp = ('"timestamp"', draw(st.sampled_from(BAD_STAMPS)))
        return [p for p in top if p[0] != '"timestamp"'] + [stamp]
    if mutation == "top_non_string":
        return [*top, ('"x"', draw(st.sampled_from(NON_STRINGS)))]
    if mutation == "dup_top":
        return [*top, draw(st.sampled_from(top))]
    if mutation == "legacy_beside":
        return [*top, ('"asset_id"', _q(draw(st.sampled_from(TOKENS))))]
    if mutation == "legacy":  # the pre-2025-09-15 form: one asset, top-level "changes"
        renamed = [('"changes"' if k == '"price_changes"' else k, v) for k, v in top]
        return [*renamed, ('"asset_id"', _q(draw(st.sampled_from(TOKENS))))]
    if mutation == "other_type":
        return [(k, _q(draw(st.sampled_from(OTHER_TYPES))) if k == '"event_type"' else v)
                for k, v in top]  # fmt: skip
    if mutation == "no_type":
        return [p for p in top if p[0] != '"event_type"']
    if mutation == "no_list":
        return [p for p in top if p[0] != '"price_changes"']
    if mutation == "list_null":
        return [(k, "null" if k == '"price_changes"' else v) for k, v in top]
    if mutation == "top_escape":
        at = draw(st.integers(0, len(top) - 1))
        k, v = top[at]
        in_key = v[0] != '"' or draw(st.booleans())
        top[at] = (_escape(draw, k), v) if in_key else (k, _escape(draw, v))
    if mutation == "top_non_ascii":
        return [*top, ('"market"', '"0x\u00e9"')]
    return top


@st.composite
def _frames(draw: st.DrawFn) -> bytes:
    """One frame: a plain price_change, shuffled and spaced, or one mutation of it."""
    items = draw(_items())
    mutation = draw(st.sampled_from(MUTATIONS))
    if items and mutation in ITEM_MUTATIONS:
        _mutate_item(draw, mutation, items)
    texts = [_obj(draw, pairs) for pairs in items]
    if mutation == "many":  # around the 256-item limit
        texts = texts or [_obj(draw, [('"asset_id"', _q(TOKEN_A)), *SMALL_ITEM])]
        texts = [texts[i % len(texts)] for i in range(draw(st.integers(250, 262)))]
    ws = draw(st.sampled_from(WS))
    top: Pairs = [
        ('"event_type"', '"price_change"'),
        ('"price_changes"', f"[{ws}{','.join(texts)}{ws}]"),
    ]
    if draw(st.booleans()):
        top.append(('"market"', _q(MARKET)))
    stamp = draw(st.sampled_from(["string", "string", "number", "null", "none"]))
    value = str(draw(st.integers(0, 10**18 - 1)))
    if stamp != "none":
        top.append(('"timestamp"', {"string": _q(value), "number": value}.get(stamp, "null")))
    extra = draw(st.lists(st.sampled_from(['"id"', '"x"', '""', '"assets_ids"']), max_size=2))
    value = draw(st.sampled_from(["0x12", "", "\x7f", " a b ", "{[1]}", "null"]))
    top += [(k, _q(value)) for k in extra]  # unknown keys with string values are fine
    top = _mutate_top(draw, mutation, draw(st.permutations(top)))
    frame = (draw(st.sampled_from(WS)) + _obj(draw, top) + draw(st.sampled_from(WS))).encode()
    if mutation == "array":
        return b"[" + frame + b"]"
    if mutation == "array2":
        return b"[" + frame + b"," + frame + b"]"
    if mutation == "garbage":
        return frame + draw(st.sampled_from([b"x", b"}", b",", b"{}", b"]", b"\x00", b"\xff"]))
    if mutation == "truncate" and frame:
        return frame[: draw(st.integers(0, len(frame) - 1))]
    if mutation == "flip" and frame:
        at = draw(st.integers(0, len(frame) - 1))
        return frame[:at] + bytes([draw(st.integers(0, 255))]) + frame[at + 1 :]
    return frame


def test_the_scanner_and_the_general_path_agree_on_generated_frames() -> None:
    tally: Counter[str] = Counter()

    @settings(max_examples=300, deadline=None)
    @given(st.lists(_frames(), min_size=1, max_size=6))
    def check(frames: list[bytes]) -> None:
        for frame in frames:  # what the scanner makes of each frame on its own
            books = _books()
            before = _state(books)
            out: list[Event] = []
            touched = price_change(frame, RECV, books, out)
            if touched < 0:  # declined: nothing changed, nothing emitted
                assert out == []
                assert _state(books) == before
            tally["accepted" if touched >= 0 else "declined"] += 1
        _both(frames)

    check()
    total = tally.total()
    assert total >= 300
    assert tally["accepted"] >= total // 4, tally  # not vacuous: many frames were scanned...
    assert tally["declined"] >= total // 4, tally  # ...and many left to the general path


TOP_VALUES = ["0", "1", "0.53", "0.54", ".5", "0.999", "00.46",  # taken
              "0.0", "1.0", "", "abc", "5e-1", "-0.5", " 0.5", "0.9999995", "1.5"]  # fmt: skip


@st.composite
def _top_frames(draw: st.DrawFn) -> bytes:
    """A best_bid_ask message, mostly plain, with a value or a field off now and then."""
    pairs: Pairs = [
        ('"event_type"', '"best_bid_ask"'),
        ('"asset_id"', _q(draw(st.sampled_from([*TOKENS, ""])))),
    ]
    for key in ('"best_bid"', '"best_ask"'):
        if draw(st.integers(0, 9)):  # mostly present...
            value = draw(st.sampled_from(TOP_VALUES[:7] * 3 + TOP_VALUES))  # ...mostly plain
            pairs.append((key, _q(value) if draw(st.integers(0, 19)) else "0.5"))
    if draw(st.booleans()):
        pairs += [('"market"', _q(MARKET)), ('"spread"', '"0.01"')]
    if draw(st.booleans()):
        pairs.append(('"timestamp"', _q(str(draw(st.integers(0, 10**18 - 1))))))
    if draw(st.integers(0, 9)) == 0:
        pairs.append(draw(st.sampled_from(pairs)))  # a field twice
    return _obj(draw, draw(st.permutations(pairs))).encode()


def test_bursts_of_best_bid_ask_and_changes_agree_with_the_general_path() -> None:
    tally: Counter[str] = Counter()

    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(st.lists(st.one_of(_top_frames(), _frames()), min_size=1, max_size=5), max_size=3)
    )
    def check(bursts: list[list[bytes]]) -> None:
        frames = [b"[" + b",".join(parts) + b"]" for parts in bursts]
        frames += [part for parts in bursts for part in parts if b"best_bid_ask" in part]
        for frame in frames:
            books = _books()
            before = _state(books)
            out: list[Event] = []
            touched = price_change(frame, RECV, books, out)
            if touched < 0:
                assert out == []
                assert _state(books) == before
            tally["accepted" if touched >= 0 else "declined"] += 1
            tally["checks"] += sum(type(e) is TopOfBook for e in out)
        _both(frames)

    check()
    assert tally["accepted"] >= 100, tally
    assert tally["checks"] >= 100, tally
    assert tally["declined"] >= 100, tally


# -- 4. numbers: the scanner reads them as parse_e6_plain -----------------------------------------

DECIMALS = st.one_of(
    st.text(alphabet="0123456789.", max_size=18),
    st.from_regex(r"0?\.[0-9]{1,10}", fullmatch=True),
    st.from_regex(r"[0-9]{1,14}(\.[0-9]{0,10})?", fullmatch=True),
)


def test_the_scanner_reads_plain_decimals_as_parse_e6_plain() -> None:
    tally: Counter[str] = Counter()

    @settings(max_examples=300, deadline=None)
    @given(DECIMALS, DECIMALS, st.sampled_from(["BUY", "SELL"]))
    @example("0.0000005", "0.0000005", "BUY")  # the seventh decimal rounds half up
    @example("0.9999994", "999999999999.9999995", "SELL")
    @example("0.9999995", "1", "BUY")  # rounds to 1: not a price
    @example("0.1234565", "0.00000049", "SELL")  # rounds to size 0: removes the level
    @example("00.5", "5.", "BUY")
    @example(".5", "0.5000000000000000000009", "SELL")
    @example("0.5", "1234567890123", "BUY")  # 13 whole digits: parse_e6_plain does not answer
    def check(price: str, size: str, side: str) -> None:
        px, sz = parse_e6_plain(price), parse_e6_plain(size)
        side_id = BID if side == "BUY" else ASK
        books = {TOKEN_A: Book(50)}
        out: list[Event] = []
        items = [_item(TOKEN_A, price, size, side), _item(TOKEN_X, price, size, side)]
        touched = price_change(_frame(items), RECV, books, out)
        # It takes exactly the frames whose numbers parse_e6_plain reads as a price and a size.
        assert touched == (1 if 0 < px < 1_000_000 and sz >= 0 else -1)
        if touched < 0:
            assert out == []
            assert books[TOKEN_A].seq == 0
            return
        tally["accepted"] += 1
        levels = books[TOKEN_A].bids if side_id == BID else books[TOKEN_A].asks
        assert levels == ({px: sz} if sz else {})
        assert out == [BookDelta(TOKEN_X, [(side_id, px, sz)], STAMP, RECV)]

    check()
    assert tally["accepted"] >= 50, tally


def test_the_fake_venues_bursts_of_books_trades_and_changes_are_taken_as_msgspec_would() -> None:
    from pmtape.collect.state import VenueBooks
    from pmtape.core.instrument import Instrument

    gen, wire, now = sim_wire(9, 12, trade_ratio=0.3, snapshot_ratio=0.05)
    dumps = [
        _encode(wire.book(gen.snapshot_of(t, now))) for m in gen.active_markets for t in m.token_ids
    ]
    msgs = []
    for msg in (msg for i in range(300) for msg in wire.encode(gen.step(now + i, 6))):
        msgs.append(_encode(msg))
        if isinstance(msg, PriceChangeMsg):  # custom_feature_enabled: best bid/ask follows
            msgs += [
                _encode(
                    BestBidAskMsg(
                        market=msg.market,
                        asset_id=it.asset_id,
                        best_bid=it.best_bid,
                        best_ask=it.best_ask,
                        spread="0.01",
                        timestamp=msg.timestamp,
                    )
                )
                for it in msg.price_changes
            ]
    kinds = Counter(msgspec.json.decode(m)["event_type"] for m in msgs)
    assert min(kinds[k] for k in ("book", "last_trade_price", "price_change", "best_bid_ask")) > 0
    # Bursts as the fake sends them: consecutive messages in one JSON array.
    frames = [b"[" + b",".join(dumps[i : i + 7]) + b"]" for i in range(0, len(dumps), 7)]
    frames += [b"[" + b",".join(msgs[i : i + 9]) + b"]" for i in range(0, len(msgs), 9)] + msgs
    plain_kinds = {"book", "last_trade_price", "price_change", "best_bid_ask"}
    for frame in frames:
        decoded = msgspec.json.decode(frame)
        decoded = decoded if isinstance(decoded, list) else [decoded]
        hashed_book = any(m["event_type"] == "book" and "hash" in m for m in decoded)
        if {m["event_type"] for m in decoded} <= plain_kinds and not hashed_book:
            assert price_change(frame, RECV, {}, []) >= 0, frame[:200]
    insts = [
        Instrument(venue="polymarket", market_id=m.market_id, instrument_id=t, poll_key=t)
        for m in gen.active_markets
        for t in m.token_ids
    ]
    runs = []
    for scan in (True, False):
        state = VenueBooks("polymarket", PolymarketNormalizer(scan=scan), 50, None)
        state.add(insts)
        for i, frame in enumerate(frames):
            state.apply_frame(frame, RECV + i)
        runs.append(state)
    fast, slow = runs
    assert fast.normalizer.stats == slow.normalizer.stats
    assert fast.counters == slow.counters
    assert fast.counters["trades"] > 0
    assert fast.counters["tob_checks"] > 0
    assert _state(fast.books) == _state(slow.books)
    assert fast.trades.to_table().equals(slow.trades.to_table())


# -- 5. hashed books: the scanner checks the hash as the general path does ------------------------

Settings = dict[str, tuple[Any, Any]]  # token -> the market's min_order_size and neg_risk


def _hashed(
    msg: dict[str, Any], settings: tuple[Any, Any] = ("5", False), *, wrong: bool = False
) -> dict[str, Any]:
    """``msg`` with the venue's hash of its fields and the market ``settings`` (or a wrong one)."""
    fields = [msg.get(k) for k in ("market", "asset_id", "timestamp")]
    levels = [[Level(lv["price"], lv["size"]) for lv in msg[side]] for side in ("bids", "asks")]
    extra = [msg.get("tick_size"), settings[1], msg.get("last_trade_price")]
    digest = book_hash(*fields, *levels, settings[0], *extra)
    return {**msg, "hash": corrupt_hash(digest) if wrong else digest}


def _ws_book(token: str = TOKEN_B, **fields: Any) -> dict[str, Any]:
    """A market-channel book as the venue sends it (best last), without its hash."""
    msg: dict[str, Any] = {
        "event_type": "book",
        "market": MARKET,
        "asset_id": token,
        "timestamp": str(STAMP),
        "bids": [{"price": "0.40", "size": "1"}, {"price": "0.45", "size": "2.5"}],
        "asks": [{"price": "0.60", "size": "3"}, {"price": "0.55", "size": "0"}],
        "tick_size": "0.01",
        "last_trade_price": "0.5",
    }
    return {**msg, **fields}


def _without(msg: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if k not in keys}


def _dump(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg, separators=(",", ":"), ensure_ascii=False).encode()


def _both_informed(frames: list[bytes], settings: Settings) -> list[PolymarketNormalizer]:
    """Feed ``frames`` to a normalizer with the scanner and one without, both told these
    market settings; events, counters and books must agree. Return them (scanner first)."""
    norms = [PolymarketNormalizer(scan=True), PolymarketNormalizer(scan=False)]
    for norm in norms:
        for token, (mos, neg) in settings.items():
            norm.set_market_info(token, mos, neg)
    fast, slow = norms
    fast_books, slow_books = _books(), _books()
    for i, frame in enumerate(frames):
        got = _ingest(fast, frame, RECV + i, fast_books)
        want = _ingest(slow, frame, RECV + i, slow_books)
        assert got == want, frame
        assert fast.stats == slow.stats, frame
        assert _state(fast_books) == _state(slow_books), frame
    return norms


def _counts() -> dict[str, int]:
    return {"hash_ok": 0, "hash_assumed_defaults": 0}  # as in the normalizer's stats


def _scan_counted(
    frame: bytes, known: dict[str, tuple[bytes, bytes] | None]
) -> tuple[int, dict[str, int]]:
    # No learn: a book with its own settings (a REST body) is declined.
    stats = _counts()
    return price_change(frame, RECV, _books(), [], stats, known), stats


def test_a_book_whose_hash_checks_out_is_taken_and_counted() -> None:
    frame = _dump(_hashed(_ws_book()))
    books = _books()
    stats = _counts()
    assert price_change(frame, RECV, books, [], stats, {}) == 1
    assert stats == {"hash_ok": 1, "hash_assumed_defaults": 1}
    b = books[TOKEN_B]
    assert (dict(b.bids), dict(b.asks)) == ({450_000: 2_500_000, 400_000: 1e6}, {600_000: 3e6})
    assert (b.snapshots, b.stale_reason) == (2, None)  # the gap mark cleared by the good book
    assert price_change(frame, RECV, _books(), []) == -1  # nobody to count it: declined
    _both_informed([frame], {})


def test_a_book_is_checked_with_its_markets_stated_settings() -> None:
    frame = _dump(_hashed(_ws_book(), ("15", True)))
    stated = {TOKEN_B: (b'"15"', b"true")}
    assert _scan_counted(frame, stated) == (1, {"hash_ok": 1, "hash_assumed_defaults": 0})
    assert _scan_counted(frame, {}) == (-1, _counts())  # with the defaults it mismatches
    assert _scan_counted(frame, {TOKEN_B: None}) == (-1, _counts())  # settings it cannot write
    norm, _ = _both_informed([frame], {TOKEN_B: ("15", True)})
    assert (norm.stats["hash_ok"], norm.stats["hash_assumed_defaults"]) == (1, 0)
    norm, _ = _both_informed([frame], {TOKEN_B: ("15", False)})
    assert norm.stats["hash_mismatch"] == 1
    _both_informed([frame], {TOKEN_B: ("\ud800", True)})  # a lone surrogate: no hash matches


REST_ORDER = ["market", "asset_id", "timestamp", "hash", "bids", "asks", "min_order_size"]
REST_ORDER += ["tick_size", "neg_risk", "last_trade_price"]  # the venue's (PROTOCOLS §1.4.1)


def _rest_body(
    token: str = TOKEN_B, settings: tuple[Any, Any] = ("15", True), *, wrong: bool = False
) -> dict[str, Any]:
    """A REST ``/book`` body: no event_type, all ten fields in the venue's order, hashed."""
    body = {**_without(_ws_book(token), "event_type"), "hash": ""}
    body.update(min_order_size=settings[0], neg_risk=settings[1])
    body = _hashed(body, settings, wrong=wrong)
    return {k: body[k] for k in REST_ORDER}


def _learner() -> tuple[dict[str, tuple[bytes, bytes] | None], Callable[[str, Any, Any], None]]:
    """A ``known`` map and the ``learn`` that fills it, as the normalizer's."""
    known: dict[str, tuple[bytes, bytes] | None] = {}

    def learn(token: str, mos: Any, neg: Any) -> None:
        known[token] = (_encode(mos), _encode(neg))

    return known, learn


def test_a_rest_body_is_scanned_and_teaches_the_settings_of_the_channel_books() -> None:
    rest = _dump(_rest_body())
    known, learn = _learner()
    stats = _counts()
    assert price_change(rest, RECV, _books(), [], stats, known, learn) == 1
    assert known == {TOKEN_B: (b'"15"', b"true")}
    assert stats == {"hash_ok": 1, "hash_assumed_defaults": 0}
    assert price_change(rest, RECV, _books(), [], _counts(), {}) == -1  # nobody to learn it
    ws = _dump(_hashed(_ws_book(timestamp=str(STAMP + 1)), ("15", True)))
    norm, _ = _both_informed([rest, ws, ws], {})
    assert norm.stats["hash_ok"] == 3
    assert norm.stats["hash_assumed_defaults"] == 0
    assert norm.stats["hash_mismatch"] == 0


# Hashed books the general path and the scanner must see alike: (frame, scanner takes it).
# Frames with a field twice are declined whether or not their hash matches (msgspec keeps the
# last word, here the right one).
HASHED: dict[str, tuple[bytes, bool]] = {
    "good": (_dump(_hashed(_ws_book())), True),
    "wrong hash": (_dump(_hashed(_ws_book(), wrong=True)), False),
    "empty hash": (_dump({**_ws_book(), "hash": ""}), False),
    "null hash": (_dump({**_ws_book(), "hash": None}), False),
    "no hash": (_dump(_ws_book()), True),
    "hash of other settings": (_dump(_hashed(_ws_book(), ("15", True))), False),
    "no market, tick or last trade": (
        _dump(_hashed(_without(_ws_book(), "market", "tick_size", "last_trade_price"))),
        True,
    ),
    "number stamp": (_dump(_hashed(_ws_book(timestamp=STAMP))), True),
    "null stamp": (_dump(_hashed(_ws_book(timestamp=None))), True),
    "no stamp": (_dump(_hashed(_without(_ws_book(), "timestamp"))), True),
    "empty sides": (_dump(_hashed(_ws_book(bids=[], asks=[]))), True),
    "spaced and reordered": (
        json.dumps(dict(reversed(_hashed(_ws_book()).items())), indent=1).encode(),
        True,
    ),
    "a level's extra field": (
        _dump(_hashed(_ws_book(bids=[{"price": "0.4", "size": "1", "x": "y"}]))),
        True,
    ),
    "a price written long": (
        _dump(_hashed(_ws_book(bids=[{"price": "0.400", "size": "01"}]))),
        True,
    ),
    "a field changed after hashing": (
        _dump({**_hashed(_ws_book()), "tick_size": "0.001"}),
        False,
    ),
    "a level changed after hashing": (
        _dump({**_hashed(_ws_book()), "bids": [{"price": "0.40", "size": "1"}]}),
        False,
    ),
    "tick_size twice": (
        _dump(_hashed(_ws_book())).replace(b'"tick_size"', b'"tick_size":"0.1","tick_size"'),
        False,
    ),
    "hash twice": (
        _dump(_hashed(_ws_book())).replace(b'"bids"', b'"hash":"00","bids"'),
        False,
    ),
    "own min_order_size": (_dump(_hashed(_ws_book(min_order_size="5"))), False),
    "after a top": (b"[" + _top() + b"," + _dump(_hashed(_ws_book())) + b"]", True),
    "good then wrong": (
        b"[" + _dump(_hashed(_ws_book())) + b"," + _dump(_hashed(_ws_book(), wrong=True)) + b"]",
        False,
    ),
    "a token without a book": (_dump(_hashed(_ws_book(TOKEN_X))), True),
    "DEL in the market": (_dump(_hashed(_ws_book(market="0x\x7f"))), True),
    "REST body": (_dump(_rest_body()), True),
    "REST body, spaced": (json.dumps(_rest_body(), indent=2).encode(), True),
    "REST body, wrong hash": (_dump(_rest_body(wrong=True)), False),
    "REST body, default settings": (_dump(_rest_body(settings=("5", False))), True),
    "REST /books": (b"[" + _dump(_rest_body()) + b"," + _dump(_rest_body(TOKEN_X)) + b"]", True),
    "REST body without settings": (
        _dump(_hashed(_without(_rest_body(), "min_order_size", "neg_risk"), ("5", False))),
        True,
    ),
    "REST body, min_order_size alone": (
        _dump(_hashed(_without(_rest_body(), "neg_risk"), ("15", False))),
        False,
    ),
    "REST body, neg_risk a string": (_dump({**_rest_body(), "neg_risk": "true"}), False),
    "REST body, neg_risk null": (_dump({**_rest_body(), "neg_risk": None}), False),
    "REST body, one side": (_dump(_without(_rest_body(), "asks")), False),
    "REST body then a channel book it fits": (
        b"[" + _dump(_rest_body()) + b"," + _dump(_hashed(_ws_book(), ("15", True))) + b"]",
        True,
    ),
    "REST body then a channel book hashed with the defaults": (
        b"[" + _dump(_rest_body()) + b"," + _dump(_hashed(_ws_book())) + b"]",
        False,
    ),
}


# What the general path counts of each (hash_ok, hash_mismatch); the rest have no hash.
VERDICTS = {"wrong hash": (0, 1), "empty hash": (0, 1), "hash of other settings": (0, 1),
            "a field changed after hashing": (0, 1), "a level changed after hashing": (0, 1),
            "good then wrong": (1, 1), "null hash": (0, 0), "no hash": (0, 0),
            "REST body, wrong hash": (0, 1), "REST /books": (2, 0),
            "REST body, neg_risk a string": (0, 1), "REST body, neg_risk null": (0, 1),
            "REST body, one side": (0, 0), "REST body then a channel book it fits": (2, 0),
            "REST body then a channel book hashed with the defaults": (1, 1)}  # fmt: skip


@pytest.mark.parametrize("name", HASHED)
def test_hashed_books_are_judged_alike_by_the_scanner_and_the_general_path(name: str) -> None:
    frame, taken = HASHED[name]
    books = _books()
    before = _state(books)
    out: list[Event] = []
    touched = price_change(frame, RECV, books, out, _counts(), *_learner())
    assert (touched >= 0) == taken
    if not taken:
        assert (out, _state(books)) == ([], before)
    fast, _ = _both_informed([frame], {})
    assert (fast.stats["hash_ok"], fast.stats["hash_mismatch"]) == VERDICTS.get(name, (1, 0))


@st.composite
def _hashed_frames(draw: st.DrawFn) -> tuple[bytes, Settings]:
    """A book with a hash right or wrong, with or without its market's stated settings."""

    def side() -> list[dict[str, str]]:
        levels = draw(st.lists(st.tuples(st.sampled_from(GOOD_PRICES),
                                         st.sampled_from(GOOD_SIZES)), max_size=6))  # fmt: skip
        return [{"price": p, "size": z} for p, z in levels]

    token = draw(st.sampled_from(TOKENS))
    msg = _ws_book(token, bids=side(), asks=side())
    for key in draw(st.lists(st.sampled_from(["market", "tick_size", "last_trade_price"]))):
        msg.pop(key, None)
    served = draw(st.sampled_from([("5", False), ("15", True), ("0.5", False)]))
    stated: Settings = {}
    if served != ("5", False) or draw(st.booleans()):  # mostly stated as served
        stated[token] = draw(st.sampled_from([served, served, served, ("5", True)]))
    if draw(st.integers(0, 3)) == 0:  # a REST body: no event_type, its own settings
        msg = _without(msg, "event_type")
        msg.update(min_order_size=served[0], neg_risk=served[1])
    msg = _hashed(msg, served, wrong=draw(st.integers(0, 3)) == 0)
    pairs = [(_q(k), json.dumps(v)) for k, v in msg.items()]
    return _obj(draw, draw(st.permutations(pairs))).encode(), stated


def test_generated_hashed_books_agree_between_the_scanner_and_the_general_path() -> None:
    tally: Counter[str] = Counter()

    @settings(max_examples=300, deadline=None)
    @given(_hashed_frames())
    def check(case: tuple[bytes, Settings]) -> None:
        frame, stated = case
        fast, _ = _both_informed([frame], stated)
        known, learn = _learner()
        for token, (mos, neg) in stated.items():
            learn(token, mos, neg)
        taken = price_change(frame, RECV, _books(), [], _counts(), known, learn) >= 0
        assert taken == (fast.stats["hash_ok"] == 1)  # taken exactly when it matches
        tally["ok" if fast.stats["hash_ok"] else "mismatch"] += 1
        tally["rest"] += b"min_order_size" in frame

    check()
    assert tally["ok"] >= 100, tally
    assert tally["mismatch"] >= 60, tally
    assert tally["rest"] >= 40, tally
