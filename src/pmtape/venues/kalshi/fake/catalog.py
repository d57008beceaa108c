"""The fake Kalshi's catalogue: sim markets as Kalshi market, event and series objects.

Prices come from the true book: YES bid/ask are its best levels, and the NO leg mirrors
them (NO bid = 1 - YES ask, NO ask = 1 - YES bid, §2.5.4). ``volume_fp`` is the lifetime
total, so never below ``volume_24h_fp``. Tick bands follow ``price_level_structure``
(§2.4).

The exchange-wide bodies (schedule, announcements, series fee changes) and event metadata
follow the official client's models (PROTOCOLS has no shape for them) [I]: the exchange
trades around the clock but for a weekly maintenance window (Thursday 08:00-10:00 UTC), the
next of which is announced; each series has had one fee change and has the next one
scheduled at the coming UTC midnight. They are derived from "now" at day granularity, so
they hold still between reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import blake2b
from typing import Any

import msgspec

from pmtape.core.events import Level
from pmtape.core.fixed import SCALE
from pmtape.venues.kalshi.fake.wire import count_fp, dollars, iso
from pmtape.venues.kalshi.messages import Event, Market, PriceRange, Series, SettlementSource
from pmtape.venues.sim.universe import SimMarket

_LISTED_BEFORE_OPEN_MS = 3_600_000
_SETTLEMENT_TIMER_S = 1800
_DAY_MS = 86_400_000
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_THURSDAY = 3  # 1970-01-01 was a Thursday: (day + 3) % 7 is the weekday index, Monday 0
_MAINTENANCE_H = (8, 10)
_FEE_TYPES = ("quadratic", "quadratic_with_maker_fees")
_RANGES = {
    "linear_cent": [PriceRange("0.0000", "1.0000", "0.0100")],
    "deci_cent": [PriceRange("0.0000", "1.0000", "0.0010")],
    "tapered_deci_cent": [
        PriceRange("0.0000", "0.1000", "0.0010"),
        PriceRange("0.1000", "0.9000", "0.0100"),
        PriceRange("0.9000", "1.0000", "0.0010"),
    ],
}


@dataclass
class Totals:
    """A ticker's traded totals, kept by the fake as its trades print."""

    volume_e6: int = 0
    last_px_e6: int = 0
    last_size_e6: int = 0


def price_structure(m: SimMarket) -> str:
    """Return the market's ``price_level_structure``."""
    return "deci_cent" if m.tick_e6 < 10_000 else "linear_cent"


def market_object(
    m: SimMarket,
    *,
    ticker: str,
    event_ticker: str,
    status: str,
    close_ms: int,
    book: tuple[list[Level], list[Level]] | None,
    totals: Totals,
) -> Market:
    """Return the venue's market object of ``m`` as listed under ``ticker``."""
    bids, asks = book or ([], [])
    bid_px, bid_sz = bids[0] if bids else (0, 0)
    ask_px, ask_sz = asks[0] if asks else (SCALE, 0)
    day_e6 = round(m.activity * 1000) * SCALE + totals.volume_e6
    structure = price_structure(m)
    finalized = status == "finalized"
    return Market(
        ticker=ticker,
        event_ticker=event_ticker,
        title=m.title,
        subtitle=m.outcomes[0],
        yes_sub_title=m.outcomes[0],
        no_sub_title=m.outcomes[1],
        created_time=iso(m.open_ts - _LISTED_BEFORE_OPEN_MS),
        updated_time=iso(m.open_ts),
        open_time=iso(m.open_ts),
        close_time=iso(close_ms),
        latest_expiration_time=iso(close_ms),
        settlement_timer_seconds=_SETTLEMENT_TIMER_S,
        status=status,
        yes_bid_dollars=dollars(bid_px),
        yes_ask_dollars=dollars(ask_px),
        no_bid_dollars=dollars(SCALE - ask_px),
        no_ask_dollars=dollars(SCALE - bid_px),
        yes_bid_size_fp=count_fp(bid_sz),
        yes_ask_size_fp=count_fp(ask_sz),
        last_price_dollars=dollars(totals.last_px_e6),
        previous_yes_bid_dollars=dollars(bid_px),
        previous_yes_ask_dollars=dollars(ask_px),
        previous_price_dollars=dollars(totals.last_px_e6),
        volume_fp=count_fp(4 * day_e6),
        volume_24h_fp=count_fp(day_e6),
        open_interest_fp=count_fp(2 * day_e6),
        result="yes" if finalized else "",
        settlement_value_dollars="1.0000" if finalized else None,
        settlement_ts=iso(close_ms) if finalized else None,
        price_level_structure=structure,
        price_ranges=list(_RANGES[structure]),
        rules_primary=f"If the answer to {m.title!r} is {m.outcomes[0]}, this resolves to Yes.",
    )


def series_object(ticker: str, m: SimMarket) -> Series:
    """Return the series object of ``m``'s series (``ticker``)."""
    category = m.tags[0].title()
    return Series(
        ticker=ticker,
        frequency="daily",
        title=(m.series or m.tags[0]).title(),
        category=category,
        tags=[t.title() for t in m.tags],
        settlement_sources=[SettlementSource(name="Sim", url="https://example.invalid/sim")],
        contract_url="https://example.invalid/contract.pdf",
        contract_terms_url="https://example.invalid/terms.pdf",
    )


def maintenance_window(now: int) -> tuple[int, int]:
    """The next weekly maintenance window (start, end in epoch ms) not yet over at ``now``."""
    day = now // _DAY_MS
    day += (_THURSDAY - (day + 3) % 7) % 7
    start, end = (day * _DAY_MS + h * 3_600_000 for h in _MAINTENANCE_H)
    if end <= now:
        start, end = start + 7 * _DAY_MS, end + 7 * _DAY_MS
    return start, end


def schedule(now: int) -> dict[str, Any]:
    """``GET /exchange/schedule``: open all week (ET), and the next maintenance window."""
    always = [{"open_time": "00:00", "close_time": "23:59"}]
    start, end = maintenance_window(now)
    week = {
        "start_time": iso(0),
        "end_time": iso((now // _DAY_MS + 365) * _DAY_MS),
        **dict.fromkeys(_WEEKDAYS, always),
    }
    window = {"start_datetime": iso(start), "end_datetime": iso(end)}
    return {"schedule": {"standard_hours": [week], "maintenance_windows": [window]}}


def announcements(now: int) -> dict[str, Any]:
    """``GET /exchange/announcements``: the next maintenance window, announced a day ahead."""
    start, end = maintenance_window(now)
    note = {
        "type": "info",
        "message": f"Scheduled maintenance from {iso(start)} to {iso(end)}.",
        "delivery_time": iso(start - _DAY_MS),
        "status": "active" if start - _DAY_MS <= now else "inactive",
    }
    return {"announcements": [note]}


def fee_changes(series: list[Series], now: int, *, historical: bool) -> dict[str, Any]:
    """``GET /series/fee_changes``: the next change of each series (and its past one)."""
    midnight = (now // _DAY_MS + 1) * _DAY_MS
    out = []
    for s in series:
        nxt = _FEE_TYPES[1] if s.fee_type == _FEE_TYPES[0] else _FEE_TYPES[0]
        if historical:
            past = {
                "id": f"{s.ticker}-FEE-1",
                "fee_type": s.fee_type,
                "ts": midnight - 30 * _DAY_MS,
            }
            out.append(_fee_change(s, past))
        out.append(_fee_change(s, {"id": f"{s.ticker}-FEE-2", "fee_type": nxt, "ts": midnight}))
    return {"series_fee_change_arr": out}


def _fee_change(s: Series, change: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": change["id"],
        "series_ticker": s.ticker,
        "fee_type": change["fee_type"],
        "fee_multiplier": s.fee_multiplier,
        "scheduled_ts": iso(change["ts"]),
    }


def event_metadata(event: Event, series: Series | None) -> dict[str, Any]:
    """``GET /events/{event_ticker}/metadata``: images, a colour per market, settlement sources."""
    return {
        "image_url": f"/images/events/{event.event_ticker}.webp",
        "featured_image_url": None,
        "market_details": [
            {
                "market_ticker": m.ticker,
                "image_url": f"/images/markets/{m.ticker}.webp",
                "color_code": "#" + blake2b(m.ticker.encode(), digest_size=3).hexdigest(),
            }
            for m in event.markets or []
        ],
        "settlement_sources": msgspec.to_builtins(series.settlement_sources if series else []),
        "competition": None,
        "competition_scope": None,
    }
