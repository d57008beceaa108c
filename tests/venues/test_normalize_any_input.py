"""Every normalizer takes any bytes: it returns, counts what is bad, and emits only sane events.

Whatever a venue (or a corrupt capture) sends — arbitrary bytes, any JSON, frames shaped like
the venue's messages with wrong or absurd values, arrays or objects nested past the
recursion limit — ``normalize`` (and Polymarket's ``ingest``, with the compiled scanner and
without) returns normally, counts the frame, and every event it emits holds prices strictly
inside (0, 1) and sizes a book can hold: levels, trades and top-of-book sizes never negative
(a Kalshi ``delta_fp`` may be negative on the wire; the level it leads to may not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
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
from pmtape.core.fixed import E6_MAX, SCALE
from pmtape.core.snapshot import AUDIT_ERR_PREFIX
from pmtape.venues.base import Normalizer
from pmtape.venues.kalshi.normalize import KalshiNormalizer
from pmtape.venues.limitless.normalize import LimitlessNormalizer
from pmtape.venues.polymarket.normalize import PolymarketNormalizer
from pmtape.venues.sim.normalize import SimNormalizer

RECV = 1_790_501_240_000
EXAMPLES = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NORMALIZERS: dict[str, Callable[[], Normalizer]] = {
    "sim": SimNormalizer,
    "kalshi": KalshiNormalizer,
    "limitless": LimitlessNormalizer,
    "polymarket": PolymarketNormalizer,
    "polymarket without the scanner": lambda: PolymarketNormalizer(scan=False),
}
DEEP = [
    b"[" * 100_000,
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b'{"type":"orderbook_snapshot","msg":' + b"[" * 100_000,
    b'{"event_type":"book","asset_id":"A","bids":' + b"[" * 100_000,
    b'{"type":"book","asset":"A","bids":' + b"[" * 100_000,
    b'42/markets,["orderbookUpdate",' + b"[" * 100_000 + b"]" * 100_001,
    b'42/markets,["orderbookUpdate",' + b'{"orderbook":' * 100_000,
    b"42/markets," + b"[" * 100_000,
]

_encode = msgspec.json.Encoder().encode

# -- values: the numbers and names the parsers look at, and anything else -----------------------

_NUMBERISH = st.sampled_from(
    [
        "0.5", "0.42", "0.4200", ".5", "0", "1", "1.0", "0.999999", "0.0000005", "12",
        "13.00", "-1", "-0.5", "-13.00", "+0.5", "1e-1", "5E-1", "1e999999", "-1e999999",
        "NaN", "Infinity", "-0", " 0.5", "0.5 ", "", "0x1", "½", "9223372036854",
        "9223372036854.775807", "99999999999999999999", "0.5.5", "null",
    ]
)  # fmt: skip
_NAMES = st.sampled_from(
    [
        "A", "B", "X", "K1", "K2", "slug-1", "slug-2", "tok-1", "yes", "no", "bid", "ask",
        "BUY", "SELL", "buy", "sell", "book", "price_change", "last_trade_price",
        "best_bid_ask", "tick_size_change", "new_market", "market_resolved",
        "orderbook_snapshot", "orderbook_delta", "trade", "ticker", "market_lifecycle_v2",
        "subscribed", "ok", "error", "update", "settled", "determined", "activated",
        "2026-12-01T18:44:01.407681Z", "0001-01-01T00:00:00+23:59", "1796150641407",
    ]
)  # fmt: skip
_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    _NUMBERISH,
    _NAMES,
)
_NUM = st.one_of(
    _NUMBERISH,
    st.integers(-(2**64), 2**64),
    st.integers(-2, 100),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(-2, 2, places=6).map(str),
)
_FIELDS = [
    # Polymarket
    "event_type", "asset_id", "market", "timestamp", "bids", "asks", "buys", "sells",
    "price_changes", "changes", "price", "size", "side", "best_bid", "best_ask",
    "transaction_hash", "id", "assets_ids", "hash",
    # Kalshi
    "type", "sid", "seq", "msg", "market_ticker", "ticker", "yes_dollars_fp",
    "no_dollars_fp", "yes_dollars", "no_dollars", "yes", "no", "price_dollars", "delta_fp",
    "delta", "ts_ms", "ts", "trade_id", "yes_price_dollars", "no_price_dollars",
    "yes_price", "count_fp", "count", "taker_outcome_side", "taker_side", "taker_book_side",
    "created_time", "yes_bid_dollars", "yes_ask_dollars", "yes_bid_size_fp",
    "yes_ask_size_fp", "determination_ts", "settled_ts", "orderbooks", "trades",
    "orderbook_fp", "orderbook",
    # Limitless
    "marketSlug", "version", "tokenId", "slug", "tokens", "markets", "data",
    "resolutionDate", "createdAt",
    # sim
    "asset",
]  # fmt: skip
_KEYS = st.one_of(st.sampled_from(_FIELDS), st.text(max_size=8))
JSON = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(_KEYS, inner, max_size=6),
    ),
    max_leaves=24,
)


def _mostly(usual: st.SearchStrategy[Any], *others: st.SearchStrategy[Any]) -> Any:
    """Draw from ``usual`` about nine times in ten, else from one of ``others``.

    (``st.one_of`` draws its branches evenly, and repeating a branch does not weigh it.)
    """
    return st.sampled_from([usual] * (9 * len(others)) + list(others)).flatmap(lambda s: s)


def _or_any(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the field's own kind of value, now and then anything at all."""
    return _mostly(value, JSON)


def _obj(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with these fields (each its kind of value, or anything), one maybe dropped."""
    return st.tuples(
        st.fixed_dictionaries({k: _or_any(v) for k, v in fields.items()}),
        st.sampled_from([""] * len(fields) + list(fields)),  # "": none
    ).map(lambda pair: {k: v for k, v in pair[0].items() if k != pair[1]})


def _msg(tag: str, kinds: list[str], **fields: st.SearchStrategy[Any]) -> Any:
    """A message: its type in field ``tag`` (one of ``kinds``), then some of ``fields``."""
    return st.tuples(st.sampled_from(kinds), _obj(**fields)).map(
        lambda pair: {tag: pair[0], **pair[1]}
    )


def _frames(message: st.SearchStrategy[Any]) -> st.SearchStrategy[list[bytes]]:
    """A few frames: shaped messages (alone or in a burst), any JSON or any bytes."""
    frame = _mostly(
        message.map(_encode),
        st.lists(message, min_size=1, max_size=4).map(_encode),
        JSON.map(_encode),
        st.binary(max_size=64),
    )
    return st.lists(frame, min_size=1, max_size=8)


# -- messages shaped like each venue's, one strategy per message type ---------------------------

_GOOD_PX = st.one_of(
    st.integers(1, SCALE - 1).map(lambda n: f"0.{n:06d}".rstrip("0")),
    st.sampled_from(["0.5", "0.42", "0.4200", ".5", "0.960"]),
)
_GOOD_SZ = st.integers(0, 10**8).map(lambda n: f"{n // 100}.{n % 100:02d}")
_NEGATIVE = st.sampled_from(["-1", "-0.01", "-13.00", "-1e3"])
# Mostly numbers a parser takes, a few it must refuse: enough good ones to reach the events.
_PX = _mostly(_GOOD_PX, _NUM)
_SZ = _mostly(_GOOD_SZ, _NEGATIVE, _NUM)
_STAMP = _mostly(st.integers(0, 2**53), st.none(), _NAMES, _NUMBERISH)
_PM_TOKEN = st.sampled_from(["A", "B", "X", ""])
_PM_LEVELS = st.lists(_obj(price=_PX, size=_SZ), max_size=5)
_PM_ITEMS = st.lists(
    _obj(asset_id=_PM_TOKEN, price=_PX, size=_SZ, side=_NAMES, best_bid=_PX, best_ask=_PX),
    max_size=5,
)
_PM_COMMON = {"asset_id": _PM_TOKEN, "market": _NAMES, "timestamp": _STAMP}
_PM_ANY_TYPE = [
    "book", "price_change", "last_trade_price", "best_bid_ask", "tick_size_change",
    "new_market", "market_resolved", "other",
]  # fmt: skip
PM_MESSAGE = st.one_of(
    _msg("event_type", ["book"], **_PM_COMMON, bids=_PM_LEVELS, asks=_PM_LEVELS),
    _msg("event_type", ["book"], **_PM_COMMON, buys=_PM_LEVELS, sells=_PM_LEVELS),
    _obj(**_PM_COMMON, bids=_PM_LEVELS, asks=_PM_LEVELS),  # a REST /book body
    _msg("event_type", ["price_change"], **_PM_COMMON, price_changes=_PM_ITEMS),
    _msg("event_type", ["price_change"], **_PM_COMMON, changes=_PM_ITEMS),
    _msg(
        "event_type",
        ["last_trade_price"],
        **_PM_COMMON,
        price=_PX,
        size=_SZ,
        side=_NAMES,
        transaction_hash=_NAMES,
    ),
    _msg("event_type", ["best_bid_ask"], **_PM_COMMON, best_bid=_PX, best_ask=_PX),
    _msg(
        "event_type",
        _PM_ANY_TYPE,
        id=_NAMES,
        market=_NAMES,
        assets_ids=st.lists(_PM_TOKEN, max_size=3),
        timestamp=_STAMP,
    ),
)

_K_TICKER = st.sampled_from(["K1", "K2", ""])
_K_LADDER = st.lists(st.tuples(_PX, _SZ).map(list), max_size=5)
_CENTS = _mostly(st.integers(1, 99), _NUM)
_K_CENTS_LADDER = st.lists(st.tuples(_CENTS, _SZ).map(list), max_size=5)
# A delta is a signed increment: negative ones are legitimate (PROTOCOLS.md §2.6.4).
_DELTA = st.one_of(_SZ, _GOOD_SZ.map(lambda text: "-" + text))
# Each shape the normalizer reads: current (``_fp``), 2025 dollars, legacy integer cents.
_K_BOOK = st.one_of(
    _obj(yes_dollars_fp=_K_LADDER, no_dollars_fp=_K_LADDER),
    _obj(yes_dollars=_K_LADDER, no_dollars=_K_LADDER),
    _obj(yes=_K_CENTS_LADDER, no=_K_CENTS_LADDER),
)
_K_TRADE = st.tuples(
    _obj(
        trade_id=_NAMES,
        market_ticker=_K_TICKER,
        taker_outcome_side=_NAMES,
        taker_side=_NAMES,
        ts_ms=_STAMP,
        ts=_STAMP,
        created_time=_NAMES,
    ),
    st.one_of(
        _obj(yes_price_dollars=_PX, no_price_dollars=_PX, count_fp=_SZ),
        _obj(no_price_dollars=_PX, count_fp=_SZ),
        _obj(yes_price=_CENTS, count=_SZ),
    ),
).map(lambda pair: {**pair[0], **pair[1]})
_K_TYPES = [
    "orderbook_snapshot", "orderbook_delta", "trade", "ticker", "market_lifecycle_v2",
    "subscribed", "ok", "error", "other",
]  # fmt: skip


def _kalshi(kinds: list[str], body: st.SearchStrategy[Any]) -> Any:
    return _msg("type", kinds, sid=_NUM, seq=_NUM, id=_NUM, msg=body)


KALSHI_MESSAGE = st.one_of(
    st.tuples(_kalshi(["orderbook_snapshot"], _K_BOOK), _K_TICKER).map(
        lambda pair: (
            {**pair[0], "msg": {**pair[0]["msg"], "market_ticker": pair[1]}}
            if isinstance(pair[0].get("msg"), dict)
            else pair[0]
        )
    ),
    _kalshi(
        ["orderbook_delta"],
        st.tuples(
            _obj(
                market_ticker=_K_TICKER,
                side=st.sampled_from(["yes", "no", "bid"]),
                ts_ms=_STAMP,
                ts=_STAMP,
            ),
            st.one_of(
                _obj(price_dollars=_PX, delta_fp=_DELTA),
                _obj(price=_CENTS, delta=_DELTA),
            ),
        ).map(lambda pair: {**pair[0], **pair[1]}),
    ),
    _kalshi(["trade"], _K_TRADE),
    _kalshi(
        ["ticker"],
        _obj(
            market_ticker=_K_TICKER,
            yes_bid_dollars=_PX,
            yes_ask_dollars=_PX,
            yes_bid_size_fp=_SZ,
            yes_ask_size_fp=_SZ,
            ts_ms=_STAMP,
            ts=_STAMP,
        ),
    ),
    _kalshi(
        ["market_lifecycle_v2"],
        _obj(
            market_ticker=_K_TICKER,
            event_type=_NAMES,
            determination_ts=_STAMP,
            settled_ts=_STAMP,
        ),
    ),
    _kalshi(_K_TYPES, JSON),
    _obj(
        orderbooks=st.lists(
            _obj(ticker=_K_TICKER, orderbook_fp=_K_BOOK, orderbook=_K_BOOK), max_size=3
        ),
    ),
    _obj(trades=st.lists(_K_TRADE, max_size=3)),
    _obj(orderbook_fp=_K_BOOK),
)

_L_SLUG = st.sampled_from(["slug-1", "slug-2", ""])
_L_TOKEN = st.sampled_from(["tok-1", "tok-2", ""])
# Limitless sends numbers, not strings: prices in dollars, sizes in raw 1e6 units.
_L_PX = st.one_of(st.integers(1, 99).map(lambda c: c / 100), _PX)
_L_SZ = st.one_of(st.integers(0, 10**10), st.integers(0, 10**10), _SZ)
_L_LEVELS = st.lists(_obj(price=_L_PX, size=_L_SZ), max_size=5)
_L_BOOK = _obj(bids=_L_LEVELS, asks=_L_LEVELS, tokenId=_L_TOKEN)
_L_MARKET = _obj(slug=_L_SLUG, tokens=_obj(yes=_L_TOKEN))
_L_UPDATE = _obj(marketSlug=_L_SLUG, orderbook=_L_BOOK, version=_STAMP, timestamp=_STAMP)
_L_STATUS = _obj(slug=_L_SLUG, marketSlug=_L_SLUG, resolutionDate=_NAMES, createdAt=_NAMES)
_L_NAMES = [
    "orderbookUpdate", "marketResolved", "marketCreated", "system", "oraclePriceData",
    "other",
]  # fmt: skip
_L_EVENT = st.tuples(
    st.sampled_from(
        ["42/markets,", "42/markets,", "42/markets,7", "42", "43/markets,", "40/markets,", "2"]
    ),
    st.one_of(
        st.tuples(st.just("orderbookUpdate"), _L_UPDATE),
        st.tuples(st.sampled_from(["marketResolved", "marketCreated"]), _L_STATUS),
        st.lists(st.one_of(st.sampled_from(_L_NAMES), JSON), max_size=3),
    ),
).map(lambda pair: pair[0].encode() + _encode(pair[1]))
_L_REST = st.one_of(
    _L_BOOK,
    _L_MARKET,
    _obj(data=st.lists(_L_MARKET, max_size=3), markets=st.lists(_L_MARKET, max_size=3)),
)
LIMITLESS_FRAMES = st.lists(
    _mostly(
        _L_EVENT,
        _L_REST.map(_encode),
        st.binary(max_size=64).map(lambda b: b"42/markets," + b),
        st.binary(max_size=64),
        JSON.map(_encode),
    ),
    min_size=1,
    max_size=8,
)

_S_PAIRS = st.lists(st.tuples(_PX, _SZ).map(list), max_size=4)
_S_SIDE = st.sampled_from(["buy", "sell", "x"])
_S_COMMON = {"asset": st.sampled_from(["A", "B", ""]), "market": _NAMES, "ts": _STAMP}
SIM_MESSAGE = st.one_of(
    _msg("type", ["book"], **_S_COMMON, bids=_S_PAIRS, asks=_S_PAIRS),
    _msg(
        "type",
        ["update"],
        **_S_COMMON,
        changes=st.lists(st.tuples(_S_SIDE, _PX, _SZ).map(list), max_size=4),
    ),
    _msg("type", ["trade"], **_S_COMMON, price=_PX, size=_SZ, side=_S_SIDE, id=_NAMES),
    _msg("type", ["book", "update", "trade", "other"], **_S_COMMON),
)


# -- what every emitted event must hold ---------------------------------------------------------


def _price_ok(px: object) -> bool:
    return type(px) is int and 0 < px < SCALE


def _size_ok(sz: object) -> bool:
    return type(sz) is int and 0 <= sz <= E6_MAX


def _check(event: Event) -> None:
    match event:
        case BookSnapshot():
            for px, sz in [*event.bids, *event.asks]:
                assert _price_ok(px), event
                assert _size_ok(sz), event
                assert sz > 0, event  # a level of size 0 is no level
            assert [p for p, _ in event.bids] == sorted({p for p, _ in event.bids}, reverse=True)
            assert [p for p, _ in event.asks] == sorted({p for p, _ in event.asks})
        case BookDelta():
            for side, px, sz in event.changes:
                assert side in (0, 1), event
                assert _price_ok(px), event
                assert _size_ok(sz), event
        case Trade():
            assert _price_ok(event.px_e6), event
            assert _size_ok(event.sz_e6), event
            assert event.sz_e6 > 0, event
        case TopOfBook():
            for px in (event.bid_px_e6, event.ask_px_e6):
                assert px is None or _price_ok(px), event
            for sz in (event.bid_sz_e6, event.ask_sz_e6):
                assert sz is None or _size_ok(sz), event
        case TickSize():
            assert event.key, event
            assert 0 < event.tick_e6 < SCALE, event
        case BookStale():
            assert event.key, event
            assert event.reason.startswith(AUDIT_ERR_PREFIX), event
        case MarketStatus():
            assert event.keys, event
            assert all(isinstance(k, str) and k for k in event.keys), event
        case _:
            raise AssertionError(f"not a canonical event: {event!r}")
    key = event.market_id if isinstance(event, MarketStatus) else event.key
    assert isinstance(key, str), event
    assert key, event


def _feed(norm: Normalizer, frames: list[bytes]) -> None:
    """Normalize each frame; check the counters and every event."""
    for n, frame in enumerate(frames, 1):
        before = norm.stats["events"]
        events = norm.normalize(frame, RECV)
        assert norm.stats["frames"] == n
        assert norm.stats["events"] - before == len(events)
        for event in events:
            _check(event)


def _books() -> dict[str, Book]:
    books = {k: Book(50) for k in ("A", "B")}
    books["A"].apply_snapshot([(400_000, 1_000_000)], [(600_000, 2_000_000)], RECV - 1)
    return books


def _ingest(norm: PolymarketNormalizer, frames: list[bytes]) -> None:
    """As ``_feed``, through ``ingest`` with books of A and B; then check those books."""
    books = _books()
    for n, frame in enumerate(frames, 1):
        events = norm.ingest(frame, RECV, books)
        assert norm.stats["frames"] == n
        for event in events:
            _check(event)
    for book in books.values():
        for px, sz in [*book.bids.items(), *book.asks.items()]:
            assert _price_ok(px)
            assert _size_ok(sz)
            assert sz > 0


# -- the properties -----------------------------------------------------------------------------


@EXAMPLES
@given(_frames(PM_MESSAGE))
def test_polymarket_takes_any_frame(frames: list[bytes]) -> None:
    _feed(PolymarketNormalizer(), frames)
    _feed(PolymarketNormalizer(scan=False), frames)
    _ingest(PolymarketNormalizer(), frames)
    _ingest(PolymarketNormalizer(scan=False), frames)


@EXAMPLES
@given(_frames(KALSHI_MESSAGE))
def test_kalshi_takes_any_frame(frames: list[bytes]) -> None:
    _feed(KalshiNormalizer(), frames)


@EXAMPLES
@given(LIMITLESS_FRAMES)
def test_limitless_takes_any_frame(frames: list[bytes]) -> None:
    _feed(LimitlessNormalizer(), frames)


@EXAMPLES
@given(_frames(SIM_MESSAGE))
def test_sim_takes_any_frame(frames: list[bytes]) -> None:
    _feed(SimNormalizer(), frames)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256))
def test_every_normalizer_takes_any_bytes(payload: bytes) -> None:
    for make in NORMALIZERS.values():
        _feed(make(), [payload])
    _ingest(PolymarketNormalizer(), [payload])


# -- the known bugs, by name --------------------------------------------------------------------


@pytest.mark.parametrize("frame", DEEP, ids=lambda f: f[:24].decode())
@pytest.mark.parametrize("name", list(NORMALIZERS))
def test_a_frame_nested_past_the_recursion_limit_is_bad(name: str, frame: bytes) -> None:
    norm = NORMALIZERS[name]()
    assert norm.normalize(frame, RECV) == []
    assert norm.stats["frames"] == 1
    assert norm.stats["bad"] == 1


@pytest.mark.parametrize("frame", DEEP[:3], ids=lambda f: f[:24].decode())
def test_polymarket_ingest_of_a_deep_frame_is_bad_and_touches_no_book(frame: bytes) -> None:
    books = _books()
    norm = PolymarketNormalizer()
    assert norm.ingest(frame, RECV, books) == []
    assert norm.stats["bad"] == 1
    assert dict(books["A"].bids) == {400_000: 1_000_000}
    assert books["A"].seq == 1


@pytest.mark.parametrize("kind", [[1], {}, {"a": 1}, 1, 1.5, True])
def test_kalshi_counts_a_type_that_is_no_string_as_bad(kind: object) -> None:
    norm = KalshiNormalizer()
    frame = _encode({"type": kind, "sid": 1, "seq": 1, "msg": {"market_ticker": "K1"}})
    assert norm.normalize(frame, RECV) == []
    assert norm.stats["bad"] == 1


@pytest.mark.parametrize("field", ["yes_bid_size_fp", "yes_ask_size_fp"])
@pytest.mark.parametrize("size", ["-1", "-0.01", -1, "-1e3"])
def test_kalshi_ticker_with_a_negative_size_is_bad(field: str, size: object) -> None:
    norm = KalshiNormalizer()
    msg = {"market_ticker": "K1", "yes_bid_dollars": "0.41", "yes_ask_dollars": "0.44"}
    frame = _encode({"type": "ticker", "sid": 2, "msg": {**msg, field: size}})
    assert norm.normalize(frame, RECV) == []
    assert norm.stats["bad"] == 1


def test_kalshi_ticker_sizes_of_zero_and_more_still_pass() -> None:
    norm = KalshiNormalizer()
    msg = {
        "market_ticker": "K1",
        "yes_bid_dollars": "0.41",
        "yes_ask_dollars": "0.44",
        "yes_bid_size_fp": "0.00",
        "yes_ask_size_fp": "17.00",
    }
    [event] = norm.normalize(_encode({"type": "ticker", "sid": 2, "msg": msg}), RECV)
    assert event == TopOfBook("K1", 410_000, 0, 440_000, 17 * SCALE, None, RECV)
    assert norm.stats["bad"] == 0


def test_kalshi_negative_delta_is_legitimate_and_never_leaves_a_negative_level() -> None:
    norm = KalshiNormalizer()
    snap = {"market_ticker": "K1", "yes_dollars_fp": [["0.42", "13.00"]], "no_dollars_fp": []}
    norm.normalize(_encode({"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": snap}), 1)
    delta = {"market_ticker": "K1", "price_dollars": "0.42", "delta_fp": "-20.00", "side": "yes"}
    frame = _encode({"type": "orderbook_delta", "sid": 1, "seq": 2, "msg": delta})
    [event] = norm.normalize(frame, RECV)
    assert event == BookDelta("K1", [(0, 420_000, 0)], None, RECV)
    assert norm.stats["bad"] == 0


def test_kalshi_delta_past_what_a_level_holds_is_bad_and_leaves_the_level() -> None:
    norm = KalshiNormalizer()
    snap = {"market_ticker": "K1", "yes_dollars_fp": [["0.5", "9223372036854"]]}
    norm.normalize(_encode({"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": snap}), 1)
    up = {"market_ticker": "K1", "price_dollars": "0.5", "delta_fp": "9223372036854", "side": "yes"}
    assert norm.normalize(_encode({"type": "orderbook_delta", "msg": up}), RECV) == []
    assert norm.stats["bad"] == 1
    down = {**up, "delta_fp": "-1"}
    [event] = norm.normalize(_encode({"type": "orderbook_delta", "msg": down}), RECV)
    assert event.changes == [(0, 500_000, 9_223_372_036_853_000_000)]
