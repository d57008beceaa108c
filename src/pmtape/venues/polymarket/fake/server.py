"""A local fake Polymarket: Gamma, CLOB REST and the market channel on loopback, one port.

Driven by the sim generator (its true books and message stream), mapped to Polymarket's ids
and wire (see ``wire``). URL layout: ``/gamma`` (Gamma), ``/clob`` (CLOB REST),
``/data`` (Data API), ``/ws/market`` (market channel), ``/debug/book?token_id=`` (the true
book). In process::

    async with FakePolymarket(markets=20) as fake:
        fake.urls["ws_url"], fake.true_book(token), fake.faults.silent = True

or as a server: ``pmtape fake-venue polymarket``. Rolling-series markets close and reopen
on their period; the channel announces that with ``market_resolved`` / ``new_market``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
from collections import deque
from collections.abc import Iterator, Mapping
from hashlib import blake2b
from typing import Any

from aiohttp import web

from pmtape.core.clock import now_ms
from pmtape.core.events import Level
from pmtape.core.fixed import e6_to_float, format_e6
from pmtape.venues.fake.base import LoopbackFake
from pmtape.venues.fake.options import FakeLaunch, pick_violation, violation_kind
from pmtape.venues.polymarket.fake.clob import iso_s
from pmtape.venues.polymarket.fake.data_api import DataApi, TradeHistory
from pmtape.venues.polymarket.fake.faults import FakeFaults
from pmtape.venues.polymarket.fake.rest import FakeRest, GammaCatalog
from pmtape.venues.polymarket.fake.stream import MarketChannel
from pmtape.venues.polymarket.fake.violations import VIOLATIONS
from pmtape.venues.polymarket.fake.wire import PmIds, WireEncoder
from pmtape.venues.polymarket.messages import BookMsg, MarketResolvedMsg, NewMarketMsg
from pmtape.venues.sim.constants import SCALE_E6
from pmtape.venues.sim.generator import GenMessage, GenTrade, SimMarket

__all__ = ["FakeFaults", "FakePolymarket", "launch"]

_TRADES_KEPT = 2_000
_FREEZE_GC_MARKETS = 500
"""From this many markets on, the startup heap is left out of garbage collection while serving."""


class FakePolymarket(LoopbackFake):
    """The fake venue: a generator, its Polymarket wire, and an aiohttp server around them."""

    venue = "polymarket"

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
        tick_s: float = 0.01,
        faults: FakeFaults | None = None,
        freeze_gc: bool | None = None,
        varied_settings: bool = False,
        history_trades: int = 200,
        history_days: int = 30,
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
        self.ids = PmIds()
        self.encoder = WireEncoder(self.ids)
        # varied_settings: markets' min_order_size/neg_risk vary, wherever the venue states them.
        self.encoder.varied_settings = varied_settings
        self.catalog = GammaCatalog(self.ids, decoys=decoys, settings=self.encoder.settings)
        self.faults = faults or FakeFaults()
        self.rng = random.Random(f"{seed}:fake")
        self.encoder.bad_hash = self.bad_hash
        self.encoder.violation = self.violation
        self.catalog.tick_of = self.tick_e6
        self.channel = MarketChannel(self._books_for, self.faults, self.rng)
        self.sockets = self.channel
        self._active: dict[str, SimMarket] = {}
        self._markets: list[SimMarket] | None = None
        self._trades: deque[dict[str, Any]] = deque(maxlen=_TRADES_KEPT)
        self._freeze_gc = markets >= _FREEZE_GC_MARKETS if freeze_gc is None else freeze_gc
        self._frozen = False
        history = TradeHistory(seed, history_trades, history_days)
        data_rng = random.Random(f"{seed}:data")
        self.data_api = DataApi(history, self.markets_of, self.faults, data_rng)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Lay out the markets, bind the port and start streaming."""
        await asyncio.to_thread(self._refresh, now_ms())
        app = web.Application()
        FakeRest(self).routes(app)
        self.data_api.routes(app)
        app.router.add_get("/ws/market", self.channel.handle)
        base = await self._serve(app)
        self.urls = {
            "gamma_url": f"{base}/gamma",
            "clob_url": f"{base}/clob",
            "data_url": f"{base}/data",
            "ws_url": f"ws://{self.host}:{self.port}/ws/market",
            "debug_url": f"{base}/debug",
        }
        if self._freeze_gc and not self._frozen:
            # Thousands of books make a heap whose every full collection would stall the
            # stream for tens of ms. It is built by now and lives as long as the fake, so
            # collections leave it out until stop().
            gc.collect()
            gc.freeze()
            self._frozen = True
        self._start_driver()

    async def stop(self) -> None:
        """Stop streaming, close every socket and the server (and thaw the heap)."""
        await super().stop()
        if self._frozen:
            self._frozen = False
            gc.unfreeze()

    # -- the true state ------------------------------------------------------------------------

    def true_book(self, asset_id: str) -> tuple[list[Level], list[Level]]:
        """Return an active token's (bids best first, asks best first); KeyError otherwise."""
        return self.generator.true_book(asset_id)

    def active_tokens(self) -> list[str]:
        """Return every token of every active market."""
        return [t for m in self.generator.active_markets for t in m.token_ids]

    def snapshot_stats(self) -> dict[str, Any]:
        """Return every counter of the fake, and how many tokens each socket is served."""
        out = super().snapshot_stats()
        out["ws_served"] = self.channel.served_counts()
        return out

    # -- what the HTTP side reads ----------------------------------------------------------------

    def gamma_listing(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """Return the Gamma objects a listing query selects (markets the listing lag hides
        left out)."""
        now = now_ms()
        listed_before = now - round(self.faults.listing_lag_s * 1000)
        markets = [m for m in self.generator.active_markets if m.open_ts <= listed_before]
        return self.catalog.listing(markets, now, self._top_of, query)

    def _top_of(self, token: str) -> tuple[str, str]:
        tops = self.encoder.tops
        return tops.best(token) if token in tops else ("0", "1")

    def condition_id(self, m: SimMarket) -> str:
        """Return a market's condition id."""
        return self.ids.condition_id(m.market_id)

    def tick_e6(self, token: str) -> int:
        """Return an active token's tick now (finer near 0 and 1, see ``wire``), in e6."""
        tick = self.encoder.ticks.get(token)
        if tick is not None:
            return tick
        market = self.generator.market_of(token)
        if market is None:
            raise KeyError(token)
        return market.tick_e6

    def clob_market(self, m: SimMarket) -> dict[str, Any]:
        """Return a market as the CLOB ``/markets`` list shows it (token prices are mids)."""
        tokens = [
            {"token_id": t, "outcome": o, "price": self._mid(t), "winner": False}
            for t, o in zip(m.token_ids, m.outcomes, strict=True)
        ]
        cid = self.ids.condition_id(m.market_id)
        min_order_size, neg_risk = self.encoder.settings(m.market_id)
        return {
            "enable_order_book": True,
            "active": True,
            "closed": False,
            "archived": False,
            "accepting_orders": True,
            "accepting_order_timestamp": iso_s(m.open_ts),
            "minimum_order_size": int(min_order_size),
            "minimum_tick_size": e6_to_float(self.tick_e6(m.token_ids[0])),
            "condition_id": cid,
            "question_id": "0x" + blake2b(f"question:{cid}".encode(), digest_size=32).hexdigest(),
            "question": m.title,
            "description": f"This market resolves per its title: {m.title}",
            "market_slug": m.slug,
            "end_date_iso": iso_s(m.close_ts),
            "game_start_time": None,
            "seconds_delay": 0,
            "fpmm": "",
            "maker_base_fee": 0,
            "taker_base_fee": 0,
            "notifications_enabled": True,
            "neg_risk": neg_risk,
            "neg_risk_market_id": "",
            "neg_risk_request_id": "",
            "icon": "",
            "image": "",
            "rewards": {"rates": None, "min_size": 0, "max_spread": 0},
            "is_50_50_outcome": False,
            "tokens": tokens,
            "tags": list(m.tags),
        }

    def _mid(self, token: str) -> float:
        bids, asks = self.generator.true_book(token)
        bid = bids[0][0] if bids else 0
        ask = asks[0][0] if asks else SCALE_E6
        return e6_to_float((bid + ask) // 2)

    def markets_of(self, condition_ids: list[str]) -> list[tuple[SimMarket, str]]:
        """Return (market, condition id) of the known markets among ``condition_ids`` (all: [])."""
        known = [(m, self.ids.condition_id(m.market_id)) for m in self.generator.active_markets]
        if not condition_ids:
            return known
        wanted = set(condition_ids)
        return [(m, cid) for m, cid in known if cid in wanted]

    def recent_trades(self, conditions: str | None) -> list[dict[str, Any]]:
        """Return recent fills newest first (Data API v2 rows), optionally by condition ids."""
        rows = list(reversed(self._trades))
        if conditions:
            wanted = set(conditions.split(","))
            rows = [r for r in rows if r["condition_id"] in wanted]
        return rows

    # -- the driver ------------------------------------------------------------------------------

    def bad_hash(self) -> bool:
        """Decide whether the next book's ``hash`` is a wrong one (the ``bad_hash_prob`` fault)."""
        prob = self.faults.bad_hash_prob
        return bool(prob > 0 and self.rng.random() < prob)

    def violation(self) -> str | None:
        """Decide whether the next book breaks an invariant (the ``violation`` fault): which."""
        faults: FakeFaults = self.faults
        return pick_violation(faults.violation, faults.violation_prob, self.rng)

    def _books_for(self, tokens: list[str]) -> list[BookMsg]:
        gen = self.generator
        out = []
        for token in tokens:
            if gen.market_of(token) is None:
                continue
            with_hash = self.rng.random() >= self.faults.missing_hash_prob
            out.append(self.encoder.book(gen.snapshot_of(token), with_hash=with_hash))
        return out

    def _emit(self, msgs: list[GenMessage], ts: int) -> None:
        for msg in msgs:
            if type(msg) is GenTrade:
                self._record_trade(msg)
        self.channel.dispatch(self.encoder.encode(msgs), ts)

    def _refresh(self, ts: int) -> None:
        gen = self.generator
        gen.refresh(ts)
        if gen.active_markets is self._markets:
            return  # the generator keeps its list until a market opens or closes
        self._markets = gen.active_markets
        active = {m.market_id: m for m in gen.active_markets}
        if active.keys() == self._active.keys():
            return
        opened = [m for k, m in active.items() if k not in self._active]
        closed = [m for k, m in self._active.items() if k not in active]
        first = not self._active
        self._active = active
        encoder = self.encoder
        for m in closed:
            for token in m.token_ids:
                encoder.forget(token)
        for m in opened:
            for token in m.token_ids:
                encoder.tops.reset(token, *gen.true_book(token))
                encoder.set_tick(token, m.tick_e6)
        if not first:
            self.channel.lifecycle(self._lifecycle(opened, closed, ts))

    def _lifecycle(
        self, opened: list[SimMarket], closed: list[SimMarket], ts: int
    ) -> list[NewMarketMsg | MarketResolvedMsg]:
        msgs: list[NewMarketMsg | MarketResolvedMsg] = []
        for m in closed:
            self.stats["resolved"] += 1
            msgs.append(
                MarketResolvedMsg(
                    id=self.ids.gamma_id(m.market_id),
                    market=self.ids.condition_id(m.market_id),
                    assets_ids=list(m.token_ids),
                    winning_asset_id=m.token_ids[0],
                    winning_outcome=m.outcomes[0],
                    timestamp=str(ts),
                    tags=list(m.tags),
                )
            )
        for m in opened:
            self.stats["opened"] += 1
            msgs.append(
                NewMarketMsg(
                    id=self.ids.gamma_id(m.market_id),
                    question=m.title,
                    market=self.ids.condition_id(m.market_id),
                    slug=m.slug,
                    assets_ids=list(m.token_ids),
                    outcomes=list(m.outcomes),
                    timestamp=str(ts),
                    tags=list(m.tags),
                    active=True,
                    clob_token_ids=list(m.token_ids),
                    order_price_min_tick_size=format_e6(m.tick_e6),
                )
            )
        return msgs

    def _record_trade(self, trade: GenTrade) -> None:
        market = self.generator.market_of(trade.token)
        if market is None:
            return
        index = market.token_ids.index(trade.token)
        self._trades.append(
            {
                "proxy_wallet": "0x" + format(self.rng.getrandbits(160), "040x"),
                "side": trade.side.upper(),
                "token_id": trade.token,
                "condition_id": self.ids.condition_id(market.market_id),
                "size": e6_to_float(trade.sz_e6),
                "price": e6_to_float(trade.px_e6),
                "timestamp": trade.ts_ms // 1000,
                "title": market.title,
                "slug": market.slug,
                "outcome": market.outcomes[index],
                "outcome_index": index,
                "transaction_hash": "0x" + format(self.rng.getrandbits(256), "064x"),
            }
        )


async def serve(fake: FakePolymarket, ready: asyncio.Event | None = None) -> None:
    """Run ``fake`` until cancelled (the CLI's server loop)."""
    async with fake:
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()


@contextlib.contextmanager
def launch(knobs: Mapping[str, Any]) -> Iterator[FakeLaunch]:
    """Build the fake of ``pmtape fake-venue polymarket`` from its knobs (``faults.COMMAND``)."""
    faults = FakeFaults(
        drop_every_s=knobs["drop_every"],
        malformed_prob=knobs["malformed_prob"],
        bad_hash_prob=knobs["bad_hash_prob"],
        violation=violation_kind(knobs["violation"], VIOLATIONS),
        violation_prob=knobs["violation_prob"],
        unknown_prob=knobs["unknown_prob"],
        http_error_prob=knobs["http_error_prob"],
        retry_after_s=knobs["retry_after"],
        slow_ms=knobs["slow_ms"],
        max_assets_per_conn=knobs["max_assets_per_conn"],
        keyset=not knobs["no_keyset"],
        listing_lag_s=knobs["listing_lag"],
        edge_repeat_prob=knobs["edge_repeat_prob"],
        bad_page_prob=knobs["bad_page_prob"],
        data_trades_limit=(knobs["data_trades_limit"], 10.0)
        if knobs["data_trades_limit"]
        else None,
    )
    yield FakeLaunch(
        FakePolymarket(
            markets=knobs["markets"],
            seed=knobs["seed"],
            rate=knobs["rate"],
            trade_ratio=knobs["trade_ratio"],
            rolling_share=knobs["rolling_share"],
            rolling_period_s=knobs["rolling_period_s"],
            host=knobs["host"],
            port=knobs["port"],
            faults=faults,
            history_trades=knobs["history_trades"],
        )
    )
