"""The sim venue's wire messages, and their encoding from generator messages.

A frame is one message object or a JSON array of them (a burst). Every message carries the
token (``asset``), its market and the venue's millisecond stamp; numbers travel as decimal
strings, as on real venues, and ``side`` is "buy" (bid) or "sell" (ask).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import msgspec

from pmtape.core.events import BID
from pmtape.core.fixed import format_e6
from pmtape.venues.sim.generator import GenDelta, GenMessage, GenSnapshot, GenTrade

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
WireSide = Literal["buy", "sell"]
WireLevel = tuple[str, str]
"""(price, size)"""
WireChange = tuple[WireSide, str, str]
"""(side, price, new size); size "0" removes the level."""


class BookMsg(msgspec.Struct, tag_field="type", tag="book", kw_only=True, gc=False):
    """The full book of one token (sent on subscribe and now and then as a resync)."""

    asset: NonEmpty
    market: str = ""
    ts: int | None = None
    bids: list[WireLevel]
    asks: list[WireLevel]


class UpdateMsg(msgspec.Struct, tag_field="type", tag="update", kw_only=True, gc=False):
    """Absolute level updates of one token, in order."""

    asset: NonEmpty
    market: str = ""
    ts: int | None = None
    changes: list[WireChange]


class TradeMsg(msgspec.Struct, tag_field="type", tag="trade", kw_only=True, gc=False):
    """One trade print on one token; ``side`` is the aggressor."""

    asset: NonEmpty
    market: str = ""
    ts: int | None = None
    price: str
    size: str
    side: WireSide
    id: str | None = None


SimMessage = BookMsg | UpdateMsg | TradeMsg
SimFrame = list[SimMessage] | SimMessage
MESSAGE_TYPES = frozenset({"book", "update", "trade"})

_ENCODER = msgspec.json.Encoder()


def to_wire(msg: GenMessage) -> SimMessage:
    """Turn one generator message into its wire struct."""
    if type(msg) is GenDelta:
        changes: list[WireChange] = [
            ("buy" if s == BID else "sell", format_e6(p), format_e6(z)) for s, p, z in msg.changes
        ]
        return UpdateMsg(asset=msg.token, market=msg.market, ts=msg.ts_ms, changes=changes)
    if type(msg) is GenTrade:
        return TradeMsg(
            asset=msg.token,
            market=msg.market,
            ts=msg.ts_ms,
            price=format_e6(msg.px_e6),
            size=format_e6(msg.sz_e6),
            side="buy" if msg.side == "buy" else "sell",
            id=msg.trade_id,
        )
    if type(msg) is GenSnapshot:
        return BookMsg(
            asset=msg.token,
            market=msg.market,
            ts=msg.ts_ms,
            bids=[(format_e6(p), format_e6(z)) for p, z in msg.bids],
            asks=[(format_e6(p), format_e6(z)) for p, z in msg.asks],
        )
    raise TypeError(f"not a generator message: {type(msg).__name__}")


def encode_message(msg: SimMessage) -> bytes:
    """Encode one wire message as a JSON frame."""
    return _ENCODER.encode(msg)


def encode_frame(msgs: Sequence[GenMessage]) -> bytes:
    """Encode generator messages as one frame: an object for one, an array for several."""
    if len(msgs) == 1:
        return _ENCODER.encode(to_wire(msgs[0]))
    return _ENCODER.encode([to_wire(m) for m in msgs])
