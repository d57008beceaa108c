"""Limitless normalizer: fixtures against golden events; bad input counted, never raised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from pmtape.core.events import BookSnapshot, BookStale, Event, MarketStatus
from pmtape.core.fixed import parse_e6
from pmtape.venues.limitless import sio
from pmtape.venues.limitless.normalize import LimitlessNormalizer, size_e6

FIXTURES = Path(__file__).parents[2] / "fixtures" / "limitless"
CASES = sorted(p.name.removesuffix(".frames") for p in FIXTURES.glob("*.frames"))
TYPES: dict[str, type] = {t.__name__: t for t in (BookSnapshot, MarketStatus, BookStale)}
RECV = 1_790_501_240_000
COUNTERS = ("bad", "unknown", "control", "keepalive", "ignored", "unkeyed", "duplicate", "markets")


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
        "ws_orderbook_update",
        "ws_orderbook_unsorted_fractional_empty",
        "ws_orderbook_bad_inputs",
        "ws_orderbook_duplicate_and_older_versions",
        "ws_market_resolved_triplicate",
        "ws_market_created",
        "ws_noise_and_control",
        "ws_unknown_and_malformed",
        "rest_detail_then_orderbook",
        "rest_orderbook_unkeyed",
        "rest_listing_teaches_group_children",
    }
    assert wanted <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_fixture_normalizes_to_its_golden_events(name: str) -> None:
    events, stats = _golden(name)
    norm = LimitlessNormalizer()
    got: list[Event] = []
    for frame in _frames(name):
        got += norm.normalize(frame, RECV)
    assert got == events
    for counter in COUNTERS:
        assert norm.stats[counter] == stats.get(counter, 0), counter
    assert norm.stats["frames"] == len(_frames(name))
    assert norm.stats["events"] == len(events)


@pytest.mark.parametrize(
    ("size", "e6"),
    [
        ("120000000", 120_000_000),  # raw 1e6 units: 120 shares
        ("100.0", 100),  # a whole number: still raw units
        ("12.5", 12_500_000),  # fractional: already shares
        ("0", 0),
    ],
)
def test_sizes_are_raw_units_unless_fractional(size: str, e6: int) -> None:
    assert size_e6(parse_e6(size)) == e6


def test_socketio_packets_round_trip() -> None:
    frame = sio.event_frame("/markets", "subscribe_market_prices", {"marketSlugs": ["a"]}, ack=7)
    assert frame == '42/markets,7["subscribe_market_prices",{"marketSlugs":["a"]}]'
    packet = sio.parse(frame.encode())
    assert packet == sio.Packet(
        "4", "2", "/markets", 7, b'["subscribe_market_prices",{"marketSlugs":["a"]}]'
    )
    assert sio.parse(b"2") == sio.Packet("2", "", "", None, b"")
    assert sio.connect_frame("/markets") == "40/markets,"
    assert sio.parse(b'40/markets,{"sid":"x"}') == sio.Packet(
        "4", "0", "/markets", None, b'{"sid":"x"}'
    )
    assert sio.parse(b'42["e",1]') == sio.Packet("4", "2", "/", None, b'["e",1]')
    assert sio.parse(b"hello") is None
    assert sio.parse(b"4") is None
