"""A deterministic, wire-agnostic market simulator: true books and the messages that move them.

It keeps the true book of every active market and emits abstract messages (e6 integers, no
JSON) that fake venue servers turn into their own wire formats. Each binary market has one
book, that of its "Yes" token; the "No" token's book is its mirror image (a Yes ask at p is a
No bid at 1 - p), as on a real binary CLOB, so every book change is emitted for both tokens.

Flow is shaped like a prediction market: a few markets carry most of it (activity weights),
it comes in bursts on one market, it concentrates near the top of the book, and trades take
from the best level. Books of markets that open are built lazily from their own seed, so a
book is the same whichever call first touches it.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right, insort
from itertools import accumulate

import msgspec

from pmtape.core.events import ASK, BID, Change, Level
from pmtape.venues.sim.constants import (
    MAX_LEVELS,
    MID_MAX_E6,
    MID_MIN_E6,
    MIN_LEVELS,
    ROUND_SIZE_SHARE,
    ROUND_SIZES,
    SCALE_E6,
    SIDE_BUY,
    SIDE_SELL,
)
from pmtape.venues.sim.universe import SimMarket, SimUniverse

__all__ = [
    "GenDelta",
    "GenMessage",
    "GenSnapshot",
    "GenTrade",
    "SimGenerator",
    "SimMarket",
    "SimUniverse",
    "bench_changes",
]

_CENT_E6 = 10_000
_POOL_BITS = 12
_DEPTH_BITS = 8
_DEPTH_P = 0.35  # chance an update lands on a given level rather than behind it


class GenSnapshot(msgspec.Struct, frozen=True, gc=False):
    """A full book of one token: bids best (highest) first, asks best (lowest) first."""

    token: str
    market: str
    bids: list[Level]
    asks: list[Level]
    ts_ms: int


class GenDelta(msgspec.Struct, frozen=True, gc=False):
    """Absolute level updates of one token: (side, px_e6, sz_e6), size 0 deletes."""

    token: str
    market: str
    changes: list[Change]
    ts_ms: int


class GenTrade(msgspec.Struct, frozen=True, gc=False):
    """A trade on one token; ``side`` is the aggressor, "buy" or "sell"."""

    token: str
    market: str
    px_e6: int
    sz_e6: int
    side: str
    ts_ms: int
    trade_id: str


GenMessage = GenSnapshot | GenDelta | GenTrade


class _Book:
    """The Yes book of one market; ``bid_px``/``ask_px`` are the sorted prices (ascending)."""

    __slots__ = ("ask_px", "asks", "bid_px", "bids", "tick")

    def __init__(self, tick: int) -> None:
        self.tick = tick
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.bid_px: list[int] = []
        self.ask_px: list[int] = []


class SimGenerator:
    """The simulator: true books of every active market and the message stream that moves them."""

    def __init__(
        self,
        universe: SimUniverse,
        seed: int = 7,
        *,
        trade_ratio: float = 0.05,
        snapshot_ratio: float = 0.002,
        burst_prob: float = 0.05,
        burst_mean: float = 8.0,
    ) -> None:
        self.universe = universe
        self.seed = seed
        self.now_ms = universe.anchor_ms
        self._rng = random.Random(seed)
        # A trade event yields 3 messages (trade + 2 deltas), an update 2: solve for the
        # event probability that makes trades ``trade_ratio`` of all messages (at most 1/3).
        self._p_trade = 1.0 if trade_ratio >= 1 else min(1.0, 2 * trade_ratio / (1 - trade_ratio))
        self._p_snap = self._p_trade + snapshot_ratio
        self._burst_prob = burst_prob
        self._burst_p = 1.0 / max(burst_mean, 2.0)
        self._sizes = _size_pool(random.Random(f"{seed}:sizes"))
        self._depths = _depth_table()
        self._books: dict[str, _Book] = {}
        self._markets: list[SimMarket] = []
        self._cum: list[float] = []
        self._by_token: dict[str, tuple[SimMarket, bool]] = {}
        self._valid_from = 1
        self._valid_until = 0
        self._burst_left = 0
        self._burst_market: SimMarket | None = None
        self._trade_seq = 0

    # -- the active universe ---------------------------------------------------------------

    def refresh(self, now_ms: int) -> None:
        """Bring the set of active markets to ``now_ms`` (drops the books of closed ones)."""
        self.now_ms = now_ms
        if self._valid_from <= now_ms < self._valid_until:
            return
        markets = self.universe.active_at(now_ms)
        self._markets = markets
        self._cum = list(accumulate(m.activity for m in markets))
        self._by_token = {t: (m, i == 1) for m in markets for i, t in enumerate(m.token_ids)}
        self._valid_from = max(m.open_ts for m in markets)
        self._valid_until = min(m.close_ts for m in markets)
        live = {m.market_id for m in markets}
        for market_id in [k for k in self._books if k not in live]:
            del self._books[market_id]
        if self._burst_market is not None and self._burst_market.market_id not in live:
            self._burst_left = 0
            self._burst_market = None

    @property
    def active_markets(self) -> list[SimMarket]:
        """Return the markets active at the last refreshed instant."""
        return self._markets

    def market_of(self, token: str) -> SimMarket | None:
        """Return the active market a token belongs to, or None."""
        hit = self._by_token.get(token)
        return hit[0] if hit else None

    # -- books ------------------------------------------------------------------------------

    def true_book(self, token: str) -> tuple[list[Level], list[Level]]:
        """Return (bids best first, asks best first) of an active token; KeyError otherwise."""
        market, is_no = self._by_token[token]
        book = self._book(market)
        bids = [(px, book.bids[px]) for px in reversed(book.bid_px)]
        asks = [(px, book.asks[px]) for px in book.ask_px]
        if is_no:
            return [(SCALE_E6 - p, s) for p, s in asks], [(SCALE_E6 - p, s) for p, s in bids]
        return bids, asks

    def snapshot_of(self, token: str, ts_ms: int | None = None) -> GenSnapshot:
        """Return the current full book of an active token as a message."""
        bids, asks = self.true_book(token)
        market = self._by_token[token][0].market_id
        return GenSnapshot(token, market, bids, asks, self.now_ms if ts_ms is None else ts_ms)

    def _book(self, market: SimMarket) -> _Book:
        book = self._books.get(market.market_id)
        if book is None:
            book = self._books[market.market_id] = self._init_book(market)
        return book

    def _init_book(self, market: SimMarket) -> _Book:
        rng = random.Random(f"{self.seed}:book:{market.market_id}")
        tick = market.tick_e6
        book = _Book(tick)
        mid = MID_MIN_E6 + rng.betavariate(1.3, 1.3) * (MID_MAX_E6 - MID_MIN_E6)
        spread = min(1 + int(rng.expovariate(0.7)), 6)
        best_bid = max(round(mid / tick) * tick - spread // 2 * tick, MIN_LEVELS * tick)
        best_ask = min(best_bid + spread * tick, SCALE_E6 - MIN_LEVELS * tick)
        for side, best in ((BID, best_bid), (ASK, best_ask)):
            room = best // tick if side == BID else (SCALE_E6 - best) // tick
            n = min(rng.randint(MIN_LEVELS, MAX_LEVELS), room)
            step = -tick if side == BID else tick
            px = best
            for left in range(n - 1, -1, -1):
                _set(book, side, px, self._sizes[rng.getrandbits(_POOL_BITS)])
                # Mostly adjacent ticks, some holes; never so wide the rest cannot fit.
                gap = min(1 if rng.random() < 0.65 else rng.randint(2, 5), room - left)
                px += step * gap
                room -= gap
        return book

    # -- the message stream -----------------------------------------------------------------

    def step(self, now_ms: int, n: int) -> list[GenMessage]:
        """Advance the market by at least ``n`` messages stamped ``now_ms`` and return them."""
        self.refresh(now_ms)
        out: list[GenMessage] = []
        while len(out) < n:
            market = self._pick()
            self._event(market, self._book(market), now_ms, out)
        return out

    def _pick(self) -> SimMarket:
        if self._burst_left > 0 and self._burst_market is not None:
            self._burst_left -= 1
            return self._burst_market
        rng = self._rng
        cum = self._cum
        market = self._markets[bisect_right(cum, rng.random() * cum[-1])]
        if rng.random() < self._burst_prob:
            self._burst_left = int(math.log(1.0 - rng.random()) / math.log(1.0 - self._burst_p))
            self._burst_market = market
        return market

    def _event(self, market: SimMarket, book: _Book, ts: int, out: list[GenMessage]) -> None:
        r = self._rng.random()
        if r < self._p_trade:
            if self._trade(market, book, ts, out):
                return
        elif r < self._p_snap:
            out.extend(self.snapshot_of(token, ts) for token in market.token_ids)
            return
        _emit(market, self._update(book), ts, out)

    def _update(self, book: _Book) -> list[Change]:
        rng = self._rng
        side = BID if rng.random() < 0.5 else ASK
        r = rng.random()
        if r < 0.55:
            return self._resize(book, side)
        if r < 0.78:
            return self._insert(book, side) or self._resize(book, side)
        if r < 0.97:
            return self._remove(book, side) or self._insert(book, side) or self._resize(book, side)
        # Requote: pull one side's best and step the other side in, moving the mid a tick.
        moved = self._remove_at(book, 1 - side, 0)
        return moved + (self._improve(book, side) or self._resize(book, side))

    def _depth(self, size: int) -> int:
        return min(self._depths[self._rng.getrandbits(_DEPTH_BITS)], size - 1)

    def _resize(self, book: _Book, side: int) -> list[Change]:
        prices = book.bid_px if side == BID else book.ask_px
        d = self._depth(len(prices))
        px = prices[-1 - d] if side == BID else prices[d]
        levels = book.bids if side == BID else book.asks
        size = self._sizes[self._rng.getrandbits(_POOL_BITS)]
        if size == levels[px]:
            size += _CENT_E6
        levels[px] = size
        return [(side, px, size)]

    def _insert(self, book: _Book, side: int) -> list[Change] | None:
        prices = book.bid_px if side == BID else book.ask_px
        if len(prices) >= MAX_LEVELS:
            return None
        tick = book.tick
        # Quoters step inside a wide spread eagerly, which keeps spreads mean-reverting.
        gap = (book.ask_px[0] - book.bid_px[-1]) // tick
        if self._rng.random() < 0.2 * gap - 0.2:
            improved = self._improve(book, side)
            if improved:
                return improved
        levels = book.bids if side == BID else book.asks
        if side == BID:
            px = prices[-1] - tick * (1 + self._depths[self._rng.getrandbits(_DEPTH_BITS)])
            while px in levels:
                px -= tick
            if px < tick:
                return None
        else:
            px = prices[0] + tick * (1 + self._depths[self._rng.getrandbits(_DEPTH_BITS)])
            while px in levels:
                px += tick
            if px > SCALE_E6 - tick:
                return None
        size = self._sizes[self._rng.getrandbits(_POOL_BITS)]
        _set(book, side, px, size)
        return [(side, px, size)]

    def _improve(self, book: _Book, side: int) -> list[Change] | None:
        if len(book.bid_px if side == BID else book.ask_px) >= MAX_LEVELS:
            return None
        tick = book.tick
        gap = (book.ask_px[0] - book.bid_px[-1]) // tick
        if gap < 2:
            return None
        r = self._rng.random()
        k = 1 if r < 0.7 else 1 + int((r - 0.7) / 0.3 * (gap - 1))
        px = book.bid_px[-1] + k * tick if side == BID else book.ask_px[0] - k * tick
        size = self._sizes[self._rng.getrandbits(_POOL_BITS)]
        _set(book, side, px, size)
        return [(side, px, size)]

    def _remove(self, book: _Book, side: int) -> list[Change] | None:
        size = len(book.bid_px if side == BID else book.ask_px)
        if size <= MIN_LEVELS:
            return None
        return self._remove_at(book, side, self._depth(size))

    def _remove_at(self, book: _Book, side: int, depth: int) -> list[Change]:
        prices = book.bid_px if side == BID else book.ask_px
        if len(prices) <= MIN_LEVELS:
            return []
        if side == BID:
            px = prices.pop(-1 - depth)
            del book.bids[px]
        else:
            px = prices.pop(depth)
            del book.asks[px]
        return [(side, px, 0)]

    def _trade(self, market: SimMarket, book: _Book, ts: int, out: list[GenMessage]) -> bool:
        rng = self._rng
        buy = rng.random() < 0.5
        side = ASK if buy else BID  # the resting side the aggressor takes from
        prices = book.ask_px if buy else book.bid_px
        levels = book.asks if buy else book.bids
        px = prices[0] if buy else prices[-1]
        level = levels[px]
        take = min(self._sizes[rng.getrandbits(_POOL_BITS)], level)
        if take == level and len(prices) <= MIN_LEVELS:
            take = level - _CENT_E6  # keep the side at its minimum depth
        if take <= 0:
            return False
        left = level - take
        if left:
            levels[px] = left
        else:
            self._remove_at(book, side, 0)
        self._trade_seq += 1
        aggressor, other = (SIDE_BUY, SIDE_SELL) if buy else (SIDE_SELL, SIDE_BUY)
        if rng.random() < 0.5:
            token, trade_px, trade_side = market.token_ids[0], px, aggressor
        else:
            # The same fill seen from the No token: a Yes buy at p is a No sell at 1 - p.
            token, trade_px, trade_side = market.token_ids[1], SCALE_E6 - px, other
        trade_id = f"t{self._trade_seq}"
        out.append(GenTrade(token, market.market_id, trade_px, take, trade_side, ts, trade_id))
        _emit(market, [(side, px, left)], ts, out)
        return True


def _emit(market: SimMarket, changes: list[Change], ts: int, out: list[GenMessage]) -> None:
    out.append(GenDelta(market.token_ids[0], market.market_id, changes, ts))
    mirrored = [(1 - s, SCALE_E6 - p, z) for s, p, z in changes]
    out.append(GenDelta(market.token_ids[1], market.market_id, mirrored, ts))


def _set(book: _Book, side: int, px: int, size: int) -> None:
    levels = book.bids if side == BID else book.asks
    if px not in levels:
        insort(book.bid_px if side == BID else book.ask_px, px)
    levels[px] = size


def _size_pool(rng: random.Random) -> list[int]:
    pool = []
    for _ in range(1 << _POOL_BITS):
        if rng.random() < ROUND_SIZE_SHARE:
            shares_c = rng.choice(ROUND_SIZES) * 100
        else:
            shares_c = max(100, min(int(rng.lognormvariate(3.6, 1.3) * 100), 25_000_000))
        pool.append(shares_c * _CENT_E6)
    return pool


def _depth_table() -> list[int]:
    # Quantiles of a geometric distribution: level 0 (the best) is hit most, depth decays fast.
    n = 1 << _DEPTH_BITS
    return [int(math.log(1.0 - (i + 0.5) / n) / math.log(1.0 - _DEPTH_P)) for i in range(n)]


def bench_changes(
    n_changes: int, seed: int = 7, books: int = 2000, *, initial: bool = True
) -> list[tuple[str, list[Change]]]:
    """Return (token, changes) batches for a book benchmark: initial books, then deltas."""
    universe = SimUniverse(seed, markets=max(1, books // 2), rolling_share=0.0)
    gen = SimGenerator(universe, seed, snapshot_ratio=0.0)
    gen.refresh(universe.anchor_ms)
    out: list[tuple[str, list[Change]]] = []
    if initial:
        for market in gen.active_markets:
            for token in market.token_ids:
                bids, asks = gen.true_book(token)
                out.append((token, [(BID, p, s) for p, s in bids] + [(ASK, p, s) for p, s in asks]))
    count = 0
    while count < n_changes:
        for msg in gen.step(universe.anchor_ms, 4096):
            if type(msg) is GenDelta:
                out.append((msg.token, msg.changes))
                count += len(msg.changes)
    return out
