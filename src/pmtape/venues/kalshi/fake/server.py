"""A local fake Kalshi: REST market data and the signed WebSocket on loopback, one port.

Driven by the sim generator (its true books and message stream), mapped to Kalshi's tickers
and wire (see ``wire``). URL layout as on the venue: ``/trade-api/v2/...`` (REST) and
``/trade-api/ws/v2`` (WebSocket), plus ``/debug/book?ticker=`` (the true YES book). The
WebSocket accepts only upgrades signed by one of ``keys`` (key id -> RSA public key). In
process::

    async with FakeKalshi(markets=20, keys={key_id: public_key}) as fake:
        fake.urls["ws_url"], fake.true_book(ticker), fake.channel.inject_gap(ticker)

or as a server: ``pmtape fake-venue kalshi``.
"""

from __future__ import annotations

import contextlib
import random
import secrets
import tempfile
from collections import deque
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from pmtape.core.clock import now_ms
from pmtape.core.events import Level
from pmtape.core.fixed import SCALE, parse_e6
from pmtape.venues.fake.base import LoopbackFake
from pmtape.venues.fake.options import FakeLaunch, pick_violation, violation_kind
from pmtape.venues.kalshi import constants as k
from pmtape.venues.kalshi.auth import generate_key_pair, load_public_key
from pmtape.venues.kalshi.constants import WS_SIGN_PATH
from pmtape.venues.kalshi.fake.catalog import Totals, market_object, series_object
from pmtape.venues.kalshi.fake.faults import KalshiFakeFaults
from pmtape.venues.kalshi.fake.rest import PREFIX, FakeKalshiRest
from pmtape.venues.kalshi.fake.stream import KalshiChannel
from pmtape.venues.kalshi.fake.violations import VIOLATIONS
from pmtape.venues.kalshi.fake.wire import KalshiIds, Ladders, WireEncoder, WireEvent, count_fp, iso
from pmtape.venues.kalshi.messages import (
    Event,
    LifecycleBody,
    Market,
    OrderbookFp,
    RestTrade,
    Series,
    SnapshotBody,
    TickerBody,
    TradeBody,
)
from pmtape.venues.sim.generator import GenMessage, SimMarket

__all__ = ["FakeKalshi", "KalshiFakeFaults", "launch"]

KEY_ID_ENV = "PMTAPE_VENUES__KALSHI__API_KEY_ID"

_TRADES_KEPT = 2_000
_DECOY_EVERY = 8
_LATE_MS = 10_000


class FakeKalshi(LoopbackFake):
    """The fake venue: a generator, its Kalshi wire, and an aiohttp server around them."""

    venue = "kalshi"

    def __init__(
        self,
        *,
        markets: int = 40,
        seed: int = 7,
        rate: float = 200.0,
        trade_ratio: float = 0.05,
        rolling_share: float = 0.0,
        rolling_period_s: int = 900,
        decoys: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_s: float = 0.02,
        faults: KalshiFakeFaults | None = None,
        keys: dict[str, rsa.RSAPublicKey] | None = None,
    ) -> None:
        self._init_fake(
            markets=markets,
            seed=seed,
            rate=rate,
            trade_ratio=trade_ratio,
            rolling_share=rolling_share,
            rolling_period_s=rolling_period_s,
            host=host,
            port=port,
            tick_s=tick_s,
        )
        self.ids = KalshiIds()
        self.ladders = Ladders()
        self.encoder = WireEncoder(self.ids, self.ladders)
        self.faults = faults or KalshiFakeFaults()
        self.rng = random.Random(f"{seed}:fake-kalshi")
        self.channel = KalshiChannel(self._ws_snapshot, self.faults, self.rng, dict(keys or {}))
        self.ladders.violation = self.violation
        self.sockets = self.channel
        self.decoys = decoys
        self._markets: dict[str, SimMarket] = {}  # ticker -> market
        self._trades: deque[RestTrade] = deque(maxlen=_TRADES_KEPT)
        self._totals: dict[str, Totals] = {}  # ticker -> traded totals

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Lay out the markets, bind the port and start streaming."""
        self._refresh(now_ms())
        app = web.Application()
        FakeKalshiRest(self).routes(app)
        app.router.add_get(WS_SIGN_PATH, self.channel.handle)
        base = await self._serve(app)
        self.urls = {
            "rest_url": base + PREFIX,
            "ws_url": f"ws://{self.host}:{self.port}{WS_SIGN_PATH}",
            "debug_url": f"{base}/debug",
        }
        self._start_driver()

    # -- the true state ------------------------------------------------------------------------

    def true_book(self, ticker: str) -> tuple[list[Level], list[Level]]:
        """Return an active ticker's YES book (bids best first, asks best first)."""
        return self.generator.true_book(self._markets[ticker].yes_token)

    def active_tickers(self) -> list[str]:
        """Return the ticker of every active market."""
        return list(self._markets)

    # -- what the HTTP side reads ----------------------------------------------------------------

    def market_objects(self) -> list[Market]:
        """Return every listed market: the active ones and the decoys."""
        now = now_ms()
        listed_before = now - round(self.faults.listing_lag_s * 1000)
        out = []
        for ticker, m in self._markets.items():
            if m.open_ts > listed_before:
                continue  # announced on the lifecycle channel, not listed yet
            out.append(self._market(ticker, m, "active", m.close_ts))
            if self.decoys and m.slot % _DECOY_EVERY == 0:
                event = self.ids.event(m)
                out.append(self._market(f"{event}-LATE", m, "active", now - _LATE_MS))
                out.append(self._market(f"{event}-NEXT", m, "initialized", m.close_ts))
                out.append(self._market(f"{event}-OLD", m, "finalized", m.open_ts))
        return out

    def _market(self, ticker: str, m: SimMarket, status: str, close_ms: int) -> Market:
        return market_object(
            m,
            ticker=ticker,
            event_ticker=self.ids.event(m),
            status=status,
            close_ms=close_ms,
            book=self.true_book(ticker) if ticker in self.ladders.yes else None,
            totals=self._totals.get(ticker) or Totals(),
        )

    def event_objects(self, status: str | None, nested: bool) -> list[Event]:
        """Return one event per active market (``open``; nothing is ``closed``/``settled``)."""
        if status not in (None, "open"):
            return []
        markets = self.market_objects() if nested else []
        out = []
        for m in self._markets.values():
            event = self.ids.event(m)
            out.append(
                Event(
                    event_ticker=event,
                    series_ticker=self.ids.series(m),
                    title=m.title,
                    sub_title=f"By {iso(m.close_ts)}",
                    category=m.tags[0].title(),
                    # the listed market and its decoys are alternatives: at most one says yes
                    mutually_exclusive=True,
                    strike_date=iso(m.close_ts),
                    markets=[x for x in markets if x.event_ticker == event] if nested else None,
                )
            )
        return out

    def series_objects(self) -> list[Series]:
        """Return every series of the active markets, once each."""
        out: dict[str, Series] = {}
        for m in self._markets.values():
            ticker = self.ids.series(m)
            out.setdefault(ticker, series_object(ticker, m))
        return list(out.values())

    def series_of(self, event_ticker: str) -> str:
        """Return the series ticker of an event ticker."""
        return event_ticker.rsplit("-", 1)[0]

    def violation(self) -> str | None:
        """Decide whether the next served book breaks an invariant (the ``violation`` fault)."""
        faults: KalshiFakeFaults = self.faults
        return pick_violation(faults.violation, faults.violation_prob, self.rng)

    def rest_book(self, ticker: str, depth: int = 0) -> OrderbookFp | None:
        """Return a ticker's book as REST serves it (``depth`` best levels a side), or None."""
        if ticker not in self.ladders.yes:
            return None
        body = self.ladders.snapshot(ticker, "")
        yes = body.yes_dollars_fp or []
        no = body.no_dollars_fp or []
        if depth:
            yes, no = yes[-depth:], no[-depth:]
        return OrderbookFp(yes_dollars=yes, no_dollars=no)

    def recent_trades(self, ticker: str | None, min_ts_s: int) -> list[RestTrade]:
        """Return recent trades newest first, optionally of one ticker and since ``min_ts``."""
        rows = reversed(self._trades)
        return [
            r
            for r in rows
            if (ticker is None or r.ticker == ticker) and r.created_time >= iso(min_ts_s * 1000)
        ]

    def _ws_snapshot(self, ticker: str) -> SnapshotBody | None:
        if ticker not in self.ladders.yes:
            return None
        return self.ladders.snapshot(ticker, self.ids.market_uuid(ticker))

    # -- the driver ------------------------------------------------------------------------------

    def _emit(self, msgs: list[GenMessage], ts: int) -> None:
        events = self.encoder.encode(msgs)
        touched: dict[str, int] = {}  # ticker -> its last message's ts_ms
        for event in events:
            body = event.body
            if isinstance(body, LifecycleBody):  # never from the encoder; typed for the union
                continue
            if isinstance(body, TradeBody):
                self._record_trade(body)
            touched[event.ticker] = body.ts_ms
        # The ticker channel follows each tick's changes with the markets' new tops.
        for ticker, ts_ms in touched.items():
            if ticker in self._markets:
                events.append(WireEvent(ticker, k.MSG_TICKER, self._ticker_body(ticker, ts_ms)))
        self.channel.dispatch(events)

    def _ticker_body(self, ticker: str, ts_ms: int) -> TickerBody:
        market = self._market(ticker, self._markets[ticker], "active", 0)
        totals = self._totals.get(ticker) or Totals()
        volume = parse_e6(market.volume_fp)
        interest = parse_e6(market.open_interest_fp)
        return TickerBody(
            market_ticker=ticker,
            market_id=self.ids.market_uuid(ticker),
            price_dollars=market.last_price_dollars,
            yes_bid_dollars=market.yes_bid_dollars,
            yes_ask_dollars=market.yes_ask_dollars,
            yes_bid_size_fp=market.yes_bid_size_fp,
            yes_ask_size_fp=market.yes_ask_size_fp,
            last_trade_size_fp=count_fp(totals.last_size_e6),
            volume_fp=market.volume_fp,
            open_interest_fp=market.open_interest_fp,
            dollar_volume=volume * totals.last_px_e6 // SCALE // SCALE,
            dollar_open_interest=interest * totals.last_px_e6 // SCALE // SCALE,
            ts=ts_ms // 1000,
            ts_ms=ts_ms,
            time=iso(ts_ms),
        )

    def _refresh(self, ts: int) -> None:
        gen = self.generator
        gen.refresh(ts)
        active = {self.ids.ticker(m): m for m in gen.active_markets}
        if active.keys() == self._markets.keys():
            return
        for ticker, m in self._markets.items():
            if ticker not in active:
                self.encoder.untrack(m)
        for ticker, m in active.items():
            if ticker not in self._markets:
                self.encoder.track(m, *gen.true_book(m.yes_token))
        first = not self._markets
        if not first:
            self.channel.dispatch(self._lifecycle(active, ts))
        self._markets = active

    def _lifecycle(self, active: dict[str, SimMarket], ts: int) -> list[WireEvent]:
        """Return the lifecycle channel's events of a roll: the closed markets determined
        and settled, the new ones created and activated (§2.6.8)."""
        secs = ts // 1000
        out: list[WireEvent] = []
        for ticker in self._markets.keys() - active.keys():
            self.stats["resolved"] += 1
            determined = LifecycleBody(
                event_type="determined", market_ticker=ticker, result="yes", determination_ts=secs
            )
            settled = LifecycleBody(event_type="settled", market_ticker=ticker, settled_ts=secs)
            out += [WireEvent(ticker, k.MSG_LIFECYCLE, b) for b in (determined, settled)]
        for ticker in active.keys() - self._markets.keys():
            m = active[ticker]
            self.stats["opened"] += 1
            created = LifecycleBody(
                event_type="created",
                market_ticker=ticker,
                open_ts=m.open_ts // 1000,
                close_ts=m.close_ts // 1000,
            )
            activated = LifecycleBody(event_type="activated", market_ticker=ticker)
            out += [WireEvent(ticker, k.MSG_LIFECYCLE, b) for b in (created, activated)]
        return out

    def _record_trade(self, body: TradeBody) -> None:
        totals = self._totals.setdefault(body.market_ticker, Totals())
        totals.last_px_e6 = parse_e6(body.yes_price_dollars)
        totals.last_size_e6 = parse_e6(body.count_fp)
        totals.volume_e6 += totals.last_size_e6
        self._trades.append(
            RestTrade(
                trade_id=body.trade_id,
                ticker=body.market_ticker,
                count_fp=body.count_fp,
                yes_price_dollars=body.yes_price_dollars,
                no_price_dollars=body.no_price_dollars,
                taker_side=body.taker_side,
                taker_outcome_side=body.taker_outcome_side,
                taker_book_side=body.taker_book_side,
                created_time=iso(body.ts_ms),
            )
        )


@contextlib.contextmanager
def launch(knobs: Mapping[str, Any]) -> Iterator[FakeLaunch]:
    """Build the fake of ``pmtape fake-venue kalshi`` from its knobs (``faults.COMMAND``).

    Without ``public_key`` it makes a throwaway key pair, whose private key lives as long
    as the launch; the JSON line names it and the key id.
    """
    faults = KalshiFakeFaults(
        drop_every_s=knobs["drop_every"],
        malformed_prob=knobs["malformed_prob"],
        unknown_prob=knobs["unknown_prob"],
        gap_every=knobs["gap_every"],
        refuse_snapshot=knobs["refuse_snapshot"],
        http_error_prob=knobs["http_error_prob"],
        slow_ms=knobs["slow_ms"],
        ping_interval_s=knobs["ping_interval"],
        listing_lag_s=knobs["listing_lag"],
        violation=violation_kind(knobs["violation"], VIOLATIONS),
        violation_prob=knobs["violation_prob"],
    )
    kid: str = knobs["key_id"] or secrets.token_hex(16)
    public_key: Path | None = knobs["public_key"]
    with tempfile.TemporaryDirectory(prefix="pmtape-fake-kalshi-") as tmp:
        private_path: Path | None = None
        if public_key is not None:
            accepted = load_public_key(public_key)
        else:
            private_path = Path(tmp) / "throwaway-kalshi-key.pem"
            accepted = generate_key_pair(private_path)
        fake = FakeKalshi(
            markets=knobs["markets"],
            seed=knobs["seed"],
            rate=knobs["rate"],
            trade_ratio=knobs["trade_ratio"],
            rolling_share=knobs["rolling_share"],
            rolling_period_s=knobs["rolling_period_s"],
            host=knobs["host"],
            port=knobs["port"],
            faults=faults,
            keys={kid: accepted},
        )
        launched = FakeLaunch(fake, info={"api_key_id": kid, "env": {KEY_ID_ENV: kid}})
        if private_path is not None:
            launched.info["private_key_path"] = str(private_path)
            launched.overrides[f"venues.{fake.venue}.private_key_path"] = str(private_path)
        yield launched
