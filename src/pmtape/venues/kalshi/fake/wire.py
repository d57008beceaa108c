"""The fake Kalshi's wire: sim markets as Kalshi tickers, generator messages as Kalshi messages.

Each sim market is one Kalshi market whose YES book is the sim "Yes" token's true book. On
the wire that book is two bids-only ladders: YES bids as they are, and NO bids at 1 - p for
every YES ask at p (§2.5.4), both ascending, best last. A level change becomes an
``orderbook_delta`` carrying the signed increment of the level's count (``delta_fp``), so
the encoder keeps each ticker's ladders to know the previous counts. The "No" token's
messages are the mirror of the "Yes" token's and are not sent twice; a trade on either
token is one Kalshi trade at its YES price.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import blake2b

from pmtape.core.events import BID, Level
from pmtape.core.fixed import SCALE
from pmtape.venues.kalshi.fake.violations import inject
from pmtape.venues.kalshi.messages import (
    DeltaBody,
    Ladder,
    LifecycleBody,
    SnapshotBody,
    TickerBody,
    TradeBody,
)
from pmtape.venues.sim.generator import GenDelta, GenMessage, GenSnapshot, GenTrade, SimMarket

_NON_ALNUM = re.compile(r"[^A-Z0-9]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def dollars(px_e6: int) -> str:
    """Format an e6 price as Kalshi's 4-decimal dollar string (``"0.4200"``)."""
    whole, frac = divmod(px_e6, SCALE)
    return f"{whole}.{frac // 100:04d}"


def count_fp(sz_e6: int) -> str:
    """Format an e6 count as a signed 2-decimal ``_fp`` string (``"13.00"``, ``"-2.50"``)."""
    sign = "-" if sz_e6 < 0 else ""
    whole, frac = divmod(abs(sz_e6), SCALE)
    return f"{sign}{whole}.{frac // 10_000:02d}"


def iso(ts_ms: int) -> str:
    """Format epoch ms as RFC3339 with microseconds, as Kalshi's REST times are."""
    when = _EPOCH + timedelta(milliseconds=ts_ms)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KalshiIds:
    """Kalshi-shaped names of sim markets: series, event and market tickers, market UUIDs."""

    def series(self, m: SimMarket) -> str:
        """Return the series ticker (``KXCRYPTO``)."""
        base = m.series or m.tags[0]
        return "KX" + _NON_ALNUM.sub("", base.upper())[:12]

    def event(self, m: SimMarket) -> str:
        """Return the event ticker (``KXCRYPTO-M00012G3``)."""
        suffix = _NON_ALNUM.sub("", m.market_id.removeprefix("sim-").upper())
        return f"{self.series(m)}-{suffix}"

    def ticker(self, m: SimMarket) -> str:
        """Return the market ticker (``KXCRYPTO-M00012G3-Y``)."""
        return f"{self.event(m)}-Y"

    def market_uuid(self, ticker: str) -> str:
        """Return a stable UUID-shaped market id."""
        h = blake2b(ticker.encode(), digest_size=16).hexdigest()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass
class WireEvent:
    """One data message for one ticker, before a subscription gives it ``sid``/``seq``."""

    ticker: str
    kind: str  # "orderbook_delta" | "trade" | "ticker" | "market_lifecycle_v2"
    body: DeltaBody | TradeBody | TickerBody | LifecycleBody


class Ladders:
    """Each ticker's bids-only YES/NO ladders, in their legs' own prices."""

    def __init__(self) -> None:
        self.yes: dict[str, dict[int, int]] = {}
        self.no: dict[str, dict[int, int]] = {}
        self.ticks: dict[str, int] = {}  # ticker -> its market's tick, e6
        self.violation: Callable[[], str | None] | None = None
        """Asked once per served book: a ``violations.VIOLATIONS`` kind to serve (None: none)."""

    def reset(self, ticker: str, bids: list[Level], asks: list[Level]) -> None:
        """Set a ticker's ladders from its YES book."""
        self.yes[ticker] = dict(bids)
        self.no[ticker] = {SCALE - px: sz for px, sz in asks}

    def drop(self, ticker: str) -> None:
        """Forget a ticker (its market closed)."""
        self.yes.pop(ticker, None)
        self.no.pop(ticker, None)
        self.ticks.pop(ticker, None)

    def snapshot(self, ticker: str, market_id: str) -> SnapshotBody:
        """Return the ticker's ladders ascending; an empty side is ``[]``, as on REST."""
        yes = _ladder(self.yes[ticker])
        no = _ladder(self.no[ticker])
        kind = self.violation() if self.violation is not None else None
        if kind is not None:
            yes, no = inject(kind, yes, no, self.ticks.get(ticker, SCALE // 100))
        return SnapshotBody(
            market_ticker=ticker, market_id=market_id, yes_dollars_fp=yes, no_dollars_fp=no
        )


class WireEncoder:
    """Turn generator messages into Kalshi data messages, keeping every ticker's ladders."""

    def __init__(self, ids: KalshiIds, ladders: Ladders) -> None:
        self.ids = ids
        self.ladders = ladders
        self.ticker_of: dict[str, str] = {}  # sim Yes token -> ticker
        self.no_token_of: dict[str, str] = {}  # sim No token -> ticker

    def track(self, m: SimMarket, bids: list[Level], asks: list[Level]) -> str:
        """Start encoding a market from its YES book; return its ticker."""
        ticker = self.ids.ticker(m)
        self.ticker_of[m.yes_token] = ticker
        self.no_token_of[m.no_token] = ticker
        self.ladders.ticks[ticker] = m.tick_e6
        self.ladders.reset(ticker, bids, asks)
        return ticker

    def untrack(self, m: SimMarket) -> None:
        """Stop encoding a closed market."""
        ticker = self.ticker_of.pop(m.yes_token, None)
        self.no_token_of.pop(m.no_token, None)
        if ticker is not None:
            self.ladders.drop(ticker)

    def encode(self, msgs: list[GenMessage]) -> list[WireEvent]:
        """Encode messages in order (book changes as increments, trades at YES prices)."""
        out: list[WireEvent] = []
        for msg in msgs:
            if type(msg) is GenTrade:
                self._trade(msg, out)
                continue
            ticker = self.ticker_of.get(msg.token)
            if ticker is None:
                continue  # the No token's mirror image, or a market not tracked
            if type(msg) is GenDelta:
                for side, px, sz in msg.changes:
                    self._level(ticker, side, px, sz, msg.ts_ms, out)
            elif type(msg) is GenSnapshot:
                self._resnap(ticker, msg, out)
        return out

    def _level(
        self, ticker: str, side: int, px: int, sz: int, ts_ms: int, out: list[WireEvent]
    ) -> None:
        if side == BID:
            levels, leg, wire_px = self.ladders.yes[ticker], "yes", px
        else:
            levels, leg, wire_px = self.ladders.no[ticker], "no", SCALE - px
        old = levels.get(wire_px, 0)
        if sz == old:
            return
        if sz:
            levels[wire_px] = sz
        else:
            levels.pop(wire_px, None)
        body = DeltaBody(
            market_ticker=ticker,
            market_id=self.ids.market_uuid(ticker),
            price_dollars=dollars(wire_px),
            delta_fp=count_fp(sz - old),
            side=leg,
            ts=iso(ts_ms),
            ts_ms=ts_ms,
        )
        out.append(WireEvent(ticker, "orderbook_delta", body))

    def _resnap(self, ticker: str, snap: GenSnapshot, out: list[WireEvent]) -> None:
        # Kalshi never pushes unsolicited snapshots: send what differs as deltas.
        bids, asks = dict(snap.bids), dict(snap.asks)
        for px in set(self.ladders.yes[ticker]) | set(bids):
            self._level(ticker, BID, px, bids.get(px, 0), snap.ts_ms, out)
        for q in set(self.ladders.no[ticker]) | {SCALE - p for p in asks}:
            self._level(ticker, 1, SCALE - q, asks.get(SCALE - q, 0), snap.ts_ms, out)

    def _trade(self, trade: GenTrade, out: list[WireEvent]) -> None:
        ticker = self.ticker_of.get(trade.token)
        yes_px = trade.px_e6
        yes_taker = trade.side == "buy"
        if ticker is None:
            ticker = self.no_token_of.get(trade.token)
            if ticker is None:
                return
            yes_px = SCALE - trade.px_e6  # a No fill at q is a YES print at 1 - q
            yes_taker = trade.side != "buy"
        leg = "yes" if yes_taker else "no"
        body = TradeBody(
            trade_id=_uuid(trade.trade_id + ticker),
            market_ticker=ticker,
            yes_price_dollars=dollars(yes_px),
            no_price_dollars=dollars(SCALE - yes_px),
            count_fp=count_fp(trade.sz_e6),
            taker_side=leg,
            taker_outcome_side=leg,
            taker_book_side="bid" if yes_taker else "ask",
            ts=trade.ts_ms // 1000,
            ts_ms=trade.ts_ms,
        )
        out.append(WireEvent(ticker, "trade", body))


def _ladder(levels: dict[int, int]) -> Ladder:
    return [(dollars(px), count_fp(sz)) for px, sz in sorted(levels.items())]


def _uuid(seed: str) -> str:
    h = blake2b(seed.encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
