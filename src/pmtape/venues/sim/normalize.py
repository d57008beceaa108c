"""Sim frames to canonical events: pure, no clock, no I/O; bad input counted, never raised."""

from __future__ import annotations

from typing import Any

import msgspec

from pmtape.core.errors import VenueProtocolError
from pmtape.core.events import ASK, BID, BookDelta, BookSnapshot, Change, Event, Trade
from pmtape.core.fixed import SCALE, parse_e6
from pmtape.venues.base import DECODE_ERRORS, Normalizer
from pmtape.venues.sim.messages import (
    MESSAGE_TYPES,
    BookMsg,
    SimFrame,
    SimMessage,
    TradeMsg,
    UpdateMsg,
    WireLevel,
)

_DECODER = msgspec.json.Decoder(SimFrame)
_SIDES = {"buy": BID, "sell": ASK}
# parse_e6 raises VenueProtocolError on text that is no number; Decimal can still refuse
# absurd exponents ("1e999999") while quantizing.
_BAD_NUMBER = (VenueProtocolError, ArithmeticError, ValueError)


class SimNormalizer(Normalizer):
    """Translate sim frames into BookSnapshot, BookDelta and Trade events keyed by token id."""

    def normalize(self, payload: bytes, ts_recv_ms: int) -> list[Event]:
        """Turn one frame into events, skipping (and counting) what cannot be understood."""
        stats = self.stats
        stats["frames"] += 1
        try:
            decoded = _DECODER.decode(payload)
        except msgspec.ValidationError:
            # One bad or unknown message must not sink its neighbours: retry one by one.
            msgs = self._decode_each(payload)
        except DECODE_ERRORS:
            stats["bad"] += 1
            return []
        else:
            msgs = decoded if isinstance(decoded, list) else [decoded]
        events: list[Event] = []
        for msg in msgs:
            try:
                event = _convert(msg, ts_recv_ms)
            except _BAD_NUMBER:
                stats["bad"] += 1
                continue
            if event is not None:
                events.append(event)
        stats["events"] += len(events)
        return events

    def _decode_each(self, payload: bytes) -> list[SimMessage]:
        try:
            raw: Any = msgspec.json.decode(payload)
        except DECODE_ERRORS:
            self.stats["bad"] += 1
            return []
        msgs: list[SimMessage] = []
        for item in raw if isinstance(raw, list) else [raw]:
            kind = item.get("type") if isinstance(item, dict) else None
            if isinstance(kind, str) and kind not in MESSAGE_TYPES:
                self.stats["unknown"] += 1
                continue
            try:
                msgs.append(msgspec.convert(item, SimMessage))
            except DECODE_ERRORS:
                self.stats["bad"] += 1
        return msgs


def _convert(msg: SimMessage, ts_recv_ms: int) -> Event | None:
    if type(msg) is UpdateMsg:
        changes: list[Change] = [(_SIDES[s], _px(p), _sz(z)) for s, p, z in msg.changes]
        if not changes:
            return None
        return BookDelta(msg.asset, changes, msg.ts, ts_recv_ms)
    if type(msg) is BookMsg:
        bids = sorted(_levels(msg.bids).items(), reverse=True)
        asks = sorted(_levels(msg.asks).items())
        return BookSnapshot(msg.asset, bids, asks, msg.ts, ts_recv_ms)
    if type(msg) is TradeMsg:
        size = _sz(msg.size)
        if not size:
            raise VenueProtocolError("trade of size 0")
        return Trade(msg.asset, _px(msg.price), size, msg.side, msg.ts, ts_recv_ms, msg.id)
    raise VenueProtocolError(f"unexpected message {type(msg).__name__}")


def _levels(levels: list[WireLevel]) -> dict[int, int]:
    # A venue book may list a price twice or with size 0; the last word wins, 0 means absent.
    book: dict[int, int] = {}
    for p, z in levels:
        px = _px(p)
        sz = _sz(z)
        if sz:
            book[px] = sz
        else:
            book.pop(px, None)
    return book


def _px(text: str) -> int:
    px = parse_e6(text)
    if not 0 < px < SCALE:
        raise VenueProtocolError(f"price outside (0, 1): {text[:40]!r}")
    return px


def _sz(text: str) -> int:
    sz = parse_e6(text)
    if sz < 0:
        raise VenueProtocolError(f"negative size: {text[:40]!r}")
    return sz
