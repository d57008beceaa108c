"""The sim universe and generator: determinism, book invariants, rolling markets, flow shape."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest

from pmtape.core.book import Book
from pmtape.core.events import BID
from pmtape.venues.sim.constants import ANCHOR_MS, MAX_LEVELS, MIN_LEVELS
from pmtape.venues.sim.generator import (
    GenDelta,
    GenMessage,
    GenSnapshot,
    GenTrade,
    SimGenerator,
    SimUniverse,
    bench_changes,
)

NOW = ANCHOR_MS + 200 * 86_400_000 + 123_456
DAY = 86_400_000


def _stream(seed: int, calls: int = 4, n: int = 3000) -> list[GenMessage]:
    gen = SimGenerator(SimUniverse(seed, markets=200), seed)
    out: list[GenMessage] = []
    for i in range(calls):
        out += gen.step(NOW + i * 10, n)
    return out


def _assert_book_ok(gen: SimGenerator, token: str, tick: int) -> None:
    bids, asks = gen.true_book(token)
    assert MIN_LEVELS <= len(bids) <= MAX_LEVELS
    assert MIN_LEVELS <= len(asks) <= MAX_LEVELS
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert [p for p, _ in asks] == sorted(p for p, _ in asks)
    assert bids[0][0] < asks[0][0]
    for px, sz in bids + asks:
        assert 0 < px < 1_000_000
        assert px % tick == 0
        assert sz > 0


def test_same_seed_gives_same_universe() -> None:
    assert SimUniverse(7).active_at(NOW) == SimUniverse(7).active_at(NOW)


def test_different_seed_gives_different_universe() -> None:
    a = {m.yes_token for m in SimUniverse(7).active_at(NOW)}
    b = {m.yes_token for m in SimUniverse(8).active_at(NOW)}
    assert not a & b


def test_same_seed_gives_same_stream() -> None:
    assert _stream(7) == _stream(7)


def test_different_seed_gives_different_stream() -> None:
    assert _stream(7, calls=1) != _stream(8, calls=1)


def test_lazy_book_init_does_not_change_the_stream() -> None:
    a = SimGenerator(SimUniverse(3, markets=100), 3)
    b = SimGenerator(SimUniverse(3, markets=100), 3)
    b.refresh(NOW)
    touched = [b.snapshot_of(m.no_token) for m in b.active_markets[::7]]
    assert touched
    assert a.step(NOW, 5000) == b.step(NOW, 5000)


def test_universe_markets_are_open_now_and_well_formed() -> None:
    markets = SimUniverse(7).active_at(NOW)
    assert len(markets) == 500
    assert len({m.market_id for m in markets}) == 500
    assert len({m.slug for m in markets}) == 500
    tokens = [t for m in markets for t in m.token_ids]
    assert len(set(tokens)) == 1000
    assert all(t.isdigit() and len(t) >= 60 for t in tokens)
    for m in markets:
        assert m.open_ts <= NOW < m.close_ts
        assert m.outcomes == ("Yes", "No")
        assert m.tick_e6 in (1_000, 10_000)
        assert m.activity > 0
        assert m.title
        assert m.tags
    assert {m.tick_e6 for m in markets} == {1_000, 10_000}


def test_long_lived_markets_close_days_to_weeks_after_anchor() -> None:
    universe = SimUniverse(7, rolling_share=0.0)
    gaps = [m.close_ts - ANCHOR_MS for m in universe.active_at(ANCHOR_MS)]
    assert all(0 < gap <= 90 * DAY for gap in gaps)
    assert max(gaps) > 14 * DAY


def test_activity_is_heavy_tailed() -> None:
    weights = sorted((m.activity for m in SimUniverse(7).active_at(NOW)), reverse=True)
    assert sum(weights[:25]) > 0.3 * sum(weights)
    assert weights[0] > 20 * weights[len(weights) // 2]


def test_rolling_markets_close_and_new_ids_appear() -> None:
    period_ms = 900_000
    universe = SimUniverse(7, markets=100, rolling_share=0.2, rolling_period_s=900)
    before = universe.active_at(NOW)
    after = universe.active_at(NOW + period_ms)
    rolling_before = [m for m in before if m.series]
    assert len(rolling_before) == 20
    for m in rolling_before:
        assert m.open_ts % period_ms == 0
        assert m.close_ts - m.open_ts == period_ms
    ids_before = {m.market_id for m in rolling_before}
    ids_after = {m.market_id for m in after if m.series}
    assert len(ids_after) == 20
    assert not ids_before & ids_after
    assert {m.series for m in rolling_before} == {m.series for m in after if m.series}
    long_before = {m.market_id for m in before if not m.series}
    long_after = {m.market_id for m in after if not m.series}
    assert len(long_before & long_after) >= 75


def test_generator_follows_markets_that_close_and_open() -> None:
    universe = SimUniverse(7, markets=40, rolling_share=0.5, rolling_period_s=900)
    gen = SimGenerator(universe, 7)
    gen.step(NOW, 2000)
    old = [m for m in gen.active_markets if m.series]
    later = NOW + 900_000
    msgs = gen.step(later, 4000)
    new_ids = {m.market_id for m in gen.active_markets if m.series}
    assert not new_ids & {m.market_id for m in old}
    assert {m.market for m in msgs} & new_ids
    assert not {m.market for m in msgs} & {m.market_id for m in old}
    with pytest.raises(KeyError):
        gen.true_book(old[0].yes_token)


def test_initial_books_are_valid() -> None:
    gen = SimGenerator(SimUniverse(11, markets=300), 11)
    gen.refresh(NOW)
    for m in gen.active_markets:
        for token in m.token_ids:
            _assert_book_ok(gen, token, m.tick_e6)


def test_books_stay_valid_as_the_market_moves() -> None:
    gen = SimGenerator(SimUniverse(5, markets=60), 5)
    for i in range(20):
        gen.step(NOW + i, 5000)
    for m in gen.active_markets:
        for token in m.token_ids:
            _assert_book_ok(gen, token, m.tick_e6)


def test_no_book_mirrors_yes_book() -> None:
    gen = SimGenerator(SimUniverse(5, markets=20), 5)
    gen.step(NOW, 5000)
    for m in gen.active_markets:
        yes_bids, yes_asks = gen.true_book(m.yes_token)
        no_bids, no_asks = gen.true_book(m.no_token)
        assert no_bids == [(1_000_000 - p, s) for p, s in yes_asks]
        assert no_asks == [(1_000_000 - p, s) for p, s in yes_bids]


def test_messages_are_well_formed() -> None:
    gen = SimGenerator(SimUniverse(9, markets=100), 9, trade_ratio=0.1)
    msgs = gen.step(NOW, 20_000)
    kinds = Counter(type(m) for m in msgs)
    assert kinds[GenDelta] > 5 * kinds[GenTrade] > 0
    assert 0.08 < kinds[GenTrade] / len(msgs) < 0.12  # trade_ratio is a share of messages
    trade_ids = [m.trade_id for m in msgs if isinstance(m, GenTrade)]
    assert len(set(trade_ids)) == len(trade_ids)
    sizes = []
    for m in msgs:
        assert m.ts_ms == NOW
        if isinstance(m, GenDelta):
            assert m.changes
            for side, px, sz in m.changes:
                assert side in (0, 1)
                assert 0 < px < 1_000_000
                assert sz >= 0
                sizes.append(sz)
        elif isinstance(m, GenTrade):
            assert 0 < m.px_e6 < 1_000_000
            assert m.sz_e6 > 0
            assert m.side in ("buy", "sell")
        else:
            assert isinstance(m, GenSnapshot)
    assert all(sz % 10_000 == 0 for sz in sizes)
    assert any(sz % 1_000_000 for sz in sizes)
    assert any(sz and sz % 100_000_000 == 0 for sz in sizes)


def test_trades_take_from_the_best_level() -> None:
    gen = SimGenerator(SimUniverse(4, markets=5, rolling_share=0.0), 4, trade_ratio=0.3)
    gen.refresh(NOW)
    for _ in range(300):
        before = {m.yes_token: gen.true_book(m.yes_token) for m in gen.active_markets}
        msgs = gen.step(NOW, 1)
        trade = msgs[0]
        if not isinstance(trade, GenTrade):
            continue
        market = gen.market_of(trade.token)
        assert market is not None
        yes_px = trade.px_e6 if trade.token == market.yes_token else 1_000_000 - trade.px_e6
        yes_buy = (trade.side == "buy") == (trade.token == market.yes_token)
        bids, asks = before[market.yes_token]
        best = asks[0] if yes_buy else bids[0]
        assert yes_px == best[0]
        assert 0 < trade.sz_e6 <= best[1]


def test_flow_is_weighted_by_activity_and_bursty() -> None:
    gen = SimGenerator(SimUniverse(7, markets=300), 7)
    msgs = gen.step(NOW, 60_000)
    per_market = Counter(m.market for m in msgs)
    hottest = max(gen.active_markets, key=lambda m: m.activity)
    median = sorted(per_market.values())[len(per_market) // 2]
    assert per_market[hottest.market_id] > 20 * median
    longest = run = 1
    for a, b in pairwise(msgs):
        run = run + 1 if a.market == b.market else 1
        longest = max(longest, run)
    assert longest >= 16


def test_bench_changes_build_books_then_update_them() -> None:
    batches = bench_changes(20_000, seed=3, books=200)
    tokens = {token for token, _ in batches[:200]}
    assert len(tokens) == 200
    assert sum(len(ch) for _, ch in batches[200:]) >= 20_000
    books: dict[str, Book] = {}
    for token, changes in batches:
        books.setdefault(token, Book()).apply_changes(changes, 0)
    for book in books.values():
        bid = book.best_bid()
        ask = book.best_ask()
        assert bid is not None
        assert ask is not None
        assert bid[0] < ask[0]
    assert all(side in (BID, 1) for _, ch in batches for side, _, _ in ch)
