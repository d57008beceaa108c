"""Sim normalizer: golden frames, bad input counted and skipped, wire round trip."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pmtape.core.events import ASK, BID, BookDelta, BookSnapshot, Trade
from pmtape.venues.sim.constants import ANCHOR_MS
from pmtape.venues.sim.generator import GenDelta, GenSnapshot, GenTrade, SimGenerator, SimUniverse
from pmtape.venues.sim.messages import BookMsg, encode_frame, encode_message
from pmtape.venues.sim.normalize import SimNormalizer

RECV = 1_700_000_000_123
TOK = "71321045679252212594626385532706912750332728571942532289631379312455583992563"

BOOK = {
    "type": "book",
    "asset": TOK,
    "market": "sim-m00001-g3",
    "ts": 1_700_000_000_000,
    "bids": [["0.44", "10"], ["0.45", "120.50"], ["0.3", "5.25"]],
    "asks": [["0.5", "7"], ["0.47", "33.1"]],
}
UPDATE = {
    "type": "update",
    "asset": TOK,
    "market": "sim-m00001-g3",
    "ts": 1_700_000_000_001,
    "changes": [["buy", "0.45", "0"], ["sell", "0.47", "33.1"], ["buy", "0.4500001", "1.0000005"]],
}
TRADE = {
    "type": "trade",
    "asset": TOK,
    "market": "sim-m00001-g3",
    "ts": 1_700_000_000_002,
    "price": "0.46",
    "size": "10",
    "side": "buy",
    "id": "t123",
}

BOOK_EVENT = BookSnapshot(
    key=TOK,
    bids=[(450_000, 120_500_000), (440_000, 10_000_000), (300_000, 5_250_000)],
    asks=[(470_000, 33_100_000), (500_000, 7_000_000)],
    ts_event_ms=1_700_000_000_000,
    ts_recv_ms=RECV,
)
UPDATE_EVENT = BookDelta(
    key=TOK,
    changes=[(BID, 450_000, 0), (ASK, 470_000, 33_100_000), (BID, 450_000, 1_000_001)],
    ts_event_ms=1_700_000_000_001,
    ts_recv_ms=RECV,
)
TRADE_EVENT = Trade(
    key=TOK,
    px_e6=460_000,
    sz_e6=10_000_000,
    side="buy",
    ts_event_ms=1_700_000_000_002,
    ts_recv_ms=RECV,
    trade_id="t123",
)


def _frame(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(
    ("message", "event"),
    [(BOOK, BOOK_EVENT), (UPDATE, UPDATE_EVENT), (TRADE, TRADE_EVENT)],
    ids=["book", "update", "trade"],
)
def test_single_message_frames(message: dict[str, Any], event: object) -> None:
    norm = SimNormalizer()
    assert norm.normalize(_frame(message), RECV) == [event]
    assert norm.stats == {"frames": 1, "events": 1, "bad": 0, "unknown": 0}


def test_array_frame_keeps_order() -> None:
    norm = SimNormalizer()
    events = norm.normalize(_frame([TRADE, BOOK, UPDATE]), RECV)
    assert events == [TRADE_EVENT, BOOK_EVENT, UPDATE_EVENT]
    assert norm.stats == {"frames": 1, "events": 3, "bad": 0, "unknown": 0}


def test_optional_fields_may_be_missing() -> None:
    norm = SimNormalizer()
    events = norm.normalize(_frame(_with(TRADE, ts=None, id=None, market=None)), RECV)
    assert events == [Trade(TOK, 460_000, 10_000_000, "buy", None, RECV, None)]


def test_book_drops_zero_levels_and_keeps_last_duplicate() -> None:
    norm = SimNormalizer()
    frame = _frame(_with(BOOK, bids=[["0.4", "1"], ["0.41", "0"], ["0.4", "2"]], asks=[]))
    (event,) = norm.normalize(frame, RECV)
    assert isinstance(event, BookSnapshot)
    assert event.bids == [(400_000, 2_000_000)]
    assert event.asks == []


BAD_MESSAGES: dict[str, tuple[Any, str]] = {
    "unknown-type": ({"type": "hello", "asset": TOK}, "unknown"),
    "no-type": (_with(UPDATE, type=None), "bad"),
    "not-an-object": (42, "bad"),
    "nested-array": ([UPDATE], "bad"),
    "price-one": (_with(TRADE, price="1"), "bad"),
    "price-zero": (_with(TRADE, price="0"), "bad"),
    "price-above-one": (_with(TRADE, price="1.5"), "bad"),
    "price-negative": (_with(TRADE, price="-0.1"), "bad"),
    "price-text": (_with(TRADE, price="abc"), "bad"),
    "price-nan": (_with(TRADE, price="NaN"), "bad"),
    "price-huge-exponent": (_with(TRADE, price="1e999999"), "bad"),
    "price-number": (_with(TRADE, price=0.46), "bad"),
    "size-negative": (_with(TRADE, size="-1"), "bad"),
    "size-text": (_with(TRADE, size="ten"), "bad"),
    "size-zero-trade": (_with(TRADE, size="0"), "bad"),
    "side-unknown": (_with(TRADE, side="hold"), "bad"),
    "missing-asset": (_with(UPDATE, asset=None), "bad"),
    "empty-asset": (_with(UPDATE, asset=""), "bad"),
    "missing-changes": (_with(UPDATE, changes=None), "bad"),
    "missing-bids": (_with(BOOK, bids=None), "bad"),
    "missing-price": (_with(TRADE, price=None), "bad"),
    "change-side-unknown": (_with(UPDATE, changes=[["bid", "0.4", "1"]]), "bad"),
    "change-too-short": (_with(UPDATE, changes=[["buy", "0.4"]]), "bad"),
    "change-negative-size": (_with(UPDATE, changes=[["buy", "0.4", "-2"]]), "bad"),
    "change-price-outside": (_with(UPDATE, changes=[["sell", "1.01", "2"]]), "bad"),
    "level-price-outside": (_with(BOOK, asks=[["0.5", "1"], ["0", "1"]]), "bad"),
    "level-size-text": (_with(BOOK, bids=[["0.5", "x"]]), "bad"),
    "ts-text": (_with(TRADE, ts="yesterday"), "bad"),
}


@pytest.mark.parametrize("case", sorted(BAD_MESSAGES))
def test_bad_message_is_counted_and_skipped_alone(case: str) -> None:
    bad, counter = BAD_MESSAGES[case]
    norm = SimNormalizer()
    events = norm.normalize(_frame([UPDATE, bad, TRADE]), RECV)
    assert events == [UPDATE_EVENT, TRADE_EVENT]
    assert norm.stats[counter] == 1
    assert norm.stats["bad"] + norm.stats["unknown"] == 1
    assert norm.stats["events"] == 2


@pytest.mark.parametrize("case", sorted(set(BAD_MESSAGES) - {"nested-array"}))
def test_bad_single_message_frame_gives_nothing(case: str) -> None:
    bad, counter = BAD_MESSAGES[case]
    norm = SimNormalizer()
    assert norm.normalize(_frame(bad), RECV) == []
    assert norm.stats[counter] == 1


@pytest.mark.parametrize(
    "payload",
    [b"", b"not json", b'{"type": "book", ', b"[", b'{"type":"trade"}}', b"\xff\xfe"],
    ids=["empty", "text", "truncated", "open-array", "trailing", "binary"],
)
def test_malformed_json_is_counted_as_bad(payload: bytes) -> None:
    norm = SimNormalizer()
    assert norm.normalize(payload, RECV) == []
    assert norm.stats == {"frames": 1, "events": 0, "bad": 1, "unknown": 0}


def test_empty_array_and_empty_update_give_no_events() -> None:
    norm = SimNormalizer()
    assert norm.normalize(b"[]", RECV) == []
    assert norm.normalize(_frame(_with(UPDATE, changes=[])), RECV) == []
    assert norm.stats == {"frames": 2, "events": 0, "bad": 0, "unknown": 0}


def test_stats_accumulate_over_frames() -> None:
    norm = SimNormalizer()
    norm.normalize(_frame([BOOK, UPDATE]), RECV)
    norm.normalize(_frame({"type": "ping"}), RECV)
    norm.normalize(b"{", RECV)
    norm.normalize(_frame(TRADE), RECV)
    assert norm.stats == {"frames": 4, "events": 3, "bad": 1, "unknown": 1}


def test_encoded_wire_matches_the_documented_format() -> None:
    msg = GenTrade(TOK, "sim-m00001-g3", 460_000, 10_000_000, "buy", 1_700_000_000_002, "t123")
    assert json.loads(encode_frame([msg])) == TRADE
    delta = GenDelta(TOK, "m", [(BID, 450_000, 0), (ASK, 470_000, 33_100_000)], 5)
    wire = json.loads(encode_frame([delta, delta]))
    assert wire[0]["changes"] == [["buy", "0.45", "0"], ["sell", "0.47", "33.1"]]
    assert len(wire) == 2
    book = BookMsg(asset=TOK, market="m", ts=1, bids=[("0.4", "2")], asks=[])
    assert json.loads(encode_message(book))["type"] == "book"


def test_generator_stream_round_trips_through_the_wire() -> None:
    gen = SimGenerator(SimUniverse(2, markets=50), 2, trade_ratio=0.1, snapshot_ratio=0.01)
    msgs = gen.step(ANCHOR_MS + 5 * 86_400_000, 6000)
    norm = SimNormalizer()
    events = []
    for i in range(0, len(msgs), 7):
        events += norm.normalize(encode_frame(msgs[i : i + 7]), RECV)
    assert len(events) == len(msgs)
    assert norm.stats["bad"] == norm.stats["unknown"] == 0
    for msg, event in zip(msgs, events, strict=True):
        if isinstance(msg, GenDelta):
            assert event == BookDelta(msg.token, msg.changes, msg.ts_ms, RECV)
        elif isinstance(msg, GenTrade):
            assert event == Trade(
                msg.token, msg.px_e6, msg.sz_e6, msg.side, msg.ts_ms, RECV, msg.trade_id
            )
        else:
            assert isinstance(msg, GenSnapshot)
            assert event == BookSnapshot(msg.token, msg.bids, msg.asks, msg.ts_ms, RECV)
