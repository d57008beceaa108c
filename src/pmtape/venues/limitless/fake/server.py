"""A local fake Limitless: REST market data and the Socket.IO feed on loopback, one port.

Driven by the sim generator (its true books and message stream), mapped to Limitless's slugs
and wire (see ``wire``). URL layout as on the venue: ``/markets/...`` (REST) and
``/socket.io/?EIO=4&transport=websocket`` (Socket.IO, namespace ``/markets``), plus
``/debug/book?slug=`` (the true book). In process::

    async with FakeLimitless(markets=20) as fake:
        fake.urls["rest_url"], fake.true_book(slug), fake.faults.http_error_prob = 1.0

or as a server: ``pmtape fake-venue limitless``. Rolling-series markets close and reopen on
their period; a closing market is announced with ``marketResolved`` (three times).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Mapping
from typing import Any

from aiohttp import web

from pmtape.core.clock import now_ms
from pmtape.core.events import Level
from pmtape.venues.fake.base import LoopbackFake
from pmtape.venues.fake.options import FakeLaunch, pick_violation, violation_kind
from pmtape.venues.limitless.constants import EIO_PATH
from pmtape.venues.limitless.fake.faults import LimitlessFakeFaults
from pmtape.venues.limitless.fake.rest import FakeLimitlessRest
from pmtape.venues.limitless.fake.stream import MarketsNamespace
from pmtape.venues.limitless.fake.violations import VIOLATIONS, inject
from pmtape.venues.limitless.fake.wire import (
    DECOY_EVERY,
    GROUP_EVERY,
    decoys,
    group_of,
    market_object,
    orderbook,
    slug_of,
)
from pmtape.venues.limitless.messages import Market, Orderbook
from pmtape.venues.sim.generator import GenMessage, GenTrade, SimMarket

__all__ = ["FakeLimitless", "LimitlessFakeFaults", "launch"]


class FakeLimitless(LoopbackFake):
    """The fake venue: a generator, its Limitless wire, and an aiohttp server around them."""

    venue = "limitless"

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
        faults: LimitlessFakeFaults | None = None,
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
        self.faults = faults or LimitlessFakeFaults()
        self.rng = random.Random(f"{seed}:fake-limitless")
        self.feed = MarketsNamespace(self._ws_book, self.faults, self.rng)
        self.sockets = self.feed
        self.decoys = decoys
        self._markets: dict[str, SimMarket] = {}  # slug -> market
        self._slug_of: dict[str, str] = {}  # yes token -> slug

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Lay out the markets, bind the port and start streaming."""
        self._refresh(now_ms())
        app = web.Application()
        FakeLimitlessRest(self).routes(app)
        app.router.add_get(EIO_PATH, self.feed.handle)
        base = await self._serve(app)
        self.urls = {
            "rest_url": base,
            "ws_url": f"ws://{self.host}:{self.port}",
            "debug_url": f"{base}/debug",
        }
        self._start_driver()

    # -- the true state ------------------------------------------------------------------------

    def true_book(self, slug: str) -> tuple[list[Level], list[Level]]:
        """Return an active market's book (bids best first, asks best first); KeyError if none."""
        return self.generator.true_book(self._markets[slug].yes_token)

    def active_slugs(self) -> list[str]:
        """Return the slug of every active market."""
        return list(self._markets)

    # -- what the HTTP side reads ----------------------------------------------------------------

    def listing(self) -> list[Market]:
        """Return ``/markets/active``'s rows: markets, groups around some, and decoys."""
        now = now_ms()
        out: list[Market] = []
        for slug, m in self._markets.items():
            obj = market_object(m, slug)
            out.append(group_of(obj) if self.decoys and m.slot % GROUP_EVERY == 5 else obj)
            if self.decoys and m.slot % DECOY_EVERY == 0:
                out.extend(decoys(m, slug, now))
        return out

    def market_detail(self, slug: str) -> Market | None:
        """Return ``/markets/{slug}``'s object of an active market, or None."""
        m = self._markets.get(slug)
        return market_object(m, slug, detail=True) if m is not None else None

    def book(self, slug: str, *, rest: bool) -> Orderbook | None:
        """Return a market's current book as the venue sends it, or None."""
        m = self._markets.get(slug)
        if m is None:
            return None
        bids, asks = self.true_book(slug)
        faults: LimitlessFakeFaults = self.faults
        kind = pick_violation(faults.violation, faults.violation_prob, self.rng)
        if kind is not None:
            bids, asks = inject(kind, bids, asks)
        return orderbook(m.yes_token, bids, asks, rest=rest)

    def _ws_book(self, slug: str) -> Orderbook | None:
        return self.book(slug, rest=False)

    # -- the driver ------------------------------------------------------------------------------

    def _emit(self, msgs: list[GenMessage], ts: int) -> None:
        changed = dict.fromkeys(
            self._slug_of[m.token]
            for m in msgs
            if type(m) is not GenTrade and m.token in self._slug_of
        )
        self.feed.dispatch(list(changed), ts, self._oracle_ticks())

    def _oracle_ticks(self) -> list[str]:
        p = self.faults.oracle_prob
        if not p:
            return []
        return [s for s, m in self._markets.items() if m.series and self.rng.random() < p]

    def _refresh(self, ts: int) -> None:
        gen = self.generator
        gen.refresh(ts)
        active = {slug_of(m): m for m in gen.active_markets}
        if active.keys() == self._markets.keys():
            return
        closed = [slug for slug in self._markets if slug not in active]
        first = not self._markets
        self._markets = active
        self._slug_of = {m.yes_token: slug for slug, m in active.items()}
        if closed and not first:
            self.stats["resolved"] += len(closed)
            self.feed.resolved(closed, ts)


@contextlib.contextmanager
def launch(knobs: Mapping[str, Any]) -> Iterator[FakeLaunch]:
    """Build the fake of ``pmtape fake-venue limitless`` from its knobs (``faults.COMMAND``)."""
    faults = LimitlessFakeFaults(
        drop_every_s=knobs["drop_every"],
        malformed_prob=knobs["malformed_prob"],
        unknown_prob=knobs["unknown_prob"],
        oracle_prob=knobs["oracle_prob"],
        duplicate_prob=knobs["duplicate_prob"],
        http_error_prob=knobs["http_error_prob"],
        retry_after_s=knobs["retry_after"],
        slow_ms=knobs["slow_ms"],
        ping_interval_ms=knobs["ping_interval_ms"],
        ping_timeout_ms=knobs["ping_timeout_ms"],
        violation=violation_kind(knobs["violation"], VIOLATIONS),
        violation_prob=knobs["violation_prob"],
    )
    yield FakeLaunch(
        FakeLimitless(
            markets=knobs["markets"],
            seed=knobs["seed"],
            rate=knobs["rate"],
            trade_ratio=knobs["trade_ratio"],
            rolling_share=knobs["rolling_share"],
            rolling_period_s=knobs["rolling_period_s"],
            host=knobs["host"],
            port=knobs["port"],
            faults=faults,
        )
    )
