"""Instruments (one order book each) and the markets they belong to."""

from __future__ import annotations

from typing import Any

import msgspec

from pmtape.core.errors import PmtapeError
from pmtape.core.fixed import parse_e6


class Instrument(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One order book of a venue; key ``<venue>:<market_id>:<instrument_id>``.

    ``poll_key`` is the venue's own handle for the book (token id, ticker, slug): what a
    session subscribes to and what normalized events are keyed by. ``tick_e6`` is the
    price grid discovery found (e6; 0 = the venue states none, the off-tick audit is off).
    """

    venue: str
    market_id: str
    instrument_id: str
    poll_key: str
    slug: str = ""
    expiration: int | None = None
    underlying: str | None = None
    title: str | None = None
    outcome: str | None = None
    rule: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    activity: float | None = None
    raw: dict[str, Any] | None = None
    tick_e6: int = 0

    @property
    def instrument_key(self) -> str:
        return instrument_key(self.venue, self.market_id, self.instrument_id)


def instrument_key(venue: str, market_id: str, instrument_id: str) -> str:
    """Return the stable key of an instrument."""
    return f"{venue}:{market_id}:{instrument_id}"


def tick_e6_of(value: object) -> int:
    """Return a venue's tick (a decimal string or number, e.g. ``"0.01"``) in e6, 0 if unusable.

    A tick must be positive and below 1; anything else (missing, malformed, zero) is "unknown".
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return 0
    try:
        tick = parse_e6(str(value))
    except PmtapeError:
        return 0
    return tick if 0 < tick < 1_000_000 else 0


class MarketInfo(msgspec.Struct, kw_only=True):
    """A market as discovery found it: one line of ``universe.jsonl`` (every field written)."""

    venue: str
    market_id: str
    title: str
    outcome_ids: list[str]
    outcomes: list[str] = msgspec.field(default_factory=list)
    close_ts: int | None = None
    status: str = "active"
    tags: list[str] = msgspec.field(default_factory=list)
    slug: str = ""
    activity: float | None = None
