"""Kalshi normalizer: fixtures against golden events; bad input counted, never raised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmtape.core.events import (
    BookDelta,
    BookSnapshot,
    BookStale,
    Event,
    MarketStatus,
    TopOfBook,
    Trade,
)
from pmtape.core.fixed import SCALE
from pmtape.venues.kalshi.fake.wire import count_fp
from pmtape.venues.kalshi.normalize import KalshiNormalizer, yes_book

FIXTURES = Path(__file__).parents[2] / "fixtures" / "kalshi"
CASES = sorted(p.name.removesuffix(".frames") for p in FIXTURES.glob("*.frames"))
TYPES: dict[str, type] = {
    t.__name__: t for t in (BookSnapshot, BookDelta, Trade, TopOfBook, MarketStatus, BookStale)
}
RECV = 1_790_501_240_000
COUNTERS = ("bad", "unknown", "control", "orphan", "duplicate_trades", "lifecycle_other")


def _frames(name: str) -> list[bytes]:
    return [line for line in (FIXTURES / f"{name}.frames").read_bytes().split(b"\n") if line]


def _golden(name: str) -> tuple[list[Event], dict[str, int]]:
    expected = json.loads((FIXTURES / f"{name}.expected.json").read_text())
    events = []
    for raw in expected["events"]:
        fields: dict[str, Any] = {k: v for k, v in raw.items() if k != "type"}
        events.append(msgspec.convert({**fields, "ts_recv_ms": RECV}, TYPES[raw["type"]]))
    return events, expected["stats"]


def test_every_documented_shape_and_bad_input_has_a_fixture() -> None:
    wanted = {
        "ws_snapshot",
        "ws_snapshot_missing_side",
        "ws_snapshot_numbers_and_three_decimals",
        "ws_snapshot_legacy_cents",
        "ws_snapshot_legacy_dollars",
        "ws_snapshot_price_out_of_range",
        "ws_snapshot_non_numeric",
        "ws_snapshot_missing_ticker",
        "ws_delta_sequence",
        "ws_delta_legacy_cents",
        "ws_delta_before_snapshot",
        "ws_delta_bad_inputs",
        "ws_trade",
        "ws_trade_legacy_and_bad",
        "ws_ticker",
        "ws_lifecycle",
        "ws_control_replies",
        "ws_unknown_and_malformed",
        "rest_orderbooks",
        "rest_orderbooks_legacy_and_bad",
        "rest_trades_overlapping",
    }
    assert wanted <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_fixture_normalizes_to_its_golden_events(name: str) -> None:
    events, stats = _golden(name)
    norm = KalshiNormalizer()
    got: list[Event] = []
    for frame in _frames(name):
        got += norm.normalize(frame, RECV)
    assert got == events
    for counter in COUNTERS:
        assert norm.stats[counter] == stats.get(counter, 0), counter
    assert norm.stats["frames"] == len(_frames(name))
    assert norm.stats["events"] == len(events)


def test_the_yes_book_takes_no_bids_as_asks_at_one_minus_price() -> None:
    (snap,) = KalshiNormalizer().normalize(_frames("ws_snapshot")[0], RECV)
    assert isinstance(snap, BookSnapshot)
    # YES best bid = max(yes) = 0.42; YES best ask = 1 - max(no) = 1 - 0.56 = 0.44.
    assert snap.bids[0] == (420_000, 13_000_000)
    assert snap.asks[0] == (440_000, 17_000_000)


def test_a_settled_market_forgets_its_levels_so_later_deltas_are_orphans() -> None:
    norm = KalshiNormalizer()
    norm.normalize(_frames("ws_delta_sequence")[0], RECV)
    norm.normalize(_frames("ws_lifecycle")[0], RECV)  # determined
    assert norm.normalize(_frames("ws_delta_sequence")[1], RECV) == []
    assert norm.stats["orphan"] == 1


Ladder = st.dictionaries(st.integers(1, SCALE - 1), st.integers(1, 10**12), max_size=30)


@given(Ladder, Ladder)
def test_yes_book_mapping_properties(yes: dict[int, int], no: dict[int, int]) -> None:
    bids, asks = yes_book(yes, no)
    assert [p for p, _ in bids] == sorted(yes, reverse=True)
    assert [p for p, _ in asks] == sorted(SCALE - q for q in no)
    assert sum(s for _, s in bids) == sum(yes.values())
    assert sum(s for _, s in asks) == sum(no.values())


@given(st.lists(st.integers(-(10**9), 10**9), min_size=1, max_size=40))
def test_increments_accumulate_exactly_and_never_go_negative(incs: list[int]) -> None:
    norm = KalshiNormalizer()
    snap = {
        "type": "orderbook_snapshot",
        "sid": 1,
        "seq": 1,
        "msg": {"market_ticker": "T", "yes_dollars_fp": [["0.5000", "10.00"]]},
    }
    norm.normalize(msgspec.json.encode(snap), RECV)
    size = 10 * SCALE
    for i, inc in enumerate(incs):
        delta = {
            "type": "orderbook_delta",
            "sid": 1,
            "seq": i + 2,
            "msg": {
                "market_ticker": "T",
                "price_dollars": "0.5000",
                "delta_fp": count_fp(inc * 10_000),
                "side": "yes",
                "ts_ms": 1,
            },
        }
        (ev,) = norm.normalize(msgspec.json.encode(delta), RECV)
        assert isinstance(ev, BookDelta)
        size = max(0, size + inc * 10_000)
        assert ev.changes == [(0, 500_000, size)]
