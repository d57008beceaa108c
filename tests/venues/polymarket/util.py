"""Shared pieces of the Polymarket tests: an adapter on a fake, a sink that keeps books."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pmtape.config.models import PolymarketVenueConfig
from pmtape.core.book import Book
from pmtape.core.clock import now_ms
from pmtape.core.events import BookDelta, BookSnapshot, Event
from pmtape.net.session import HttpMeta, VenueSession
from pmtape.venues.polymarket.adapter import PolymarketAdapter
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.polymarket.fake.wire import WireEncoder
from pmtape.venues.polymarket.normalize import PolymarketNormalizer
from pmtape.venues.sim.generator import SimGenerator, SimUniverse
from tests.helpers import eventually


def adapter_for(fake: FakePolymarket, **overrides: Any) -> PolymarketAdapter:
    """Return the real adapter pointed at ``fake``, with quick test timings."""
    urls = {k: v for k, v in fake.urls.items() if k != "debug_url"}
    settings: dict[str, Any] = {
        "enabled": True,
        "reconnect_backoff_base_s": 0.05,
        "reconnect_backoff_max_s": 0.5,
        "ping_interval_s": 0.2,
        **urls,
        **overrides,
    }
    return PolymarketAdapter(PolymarketVenueConfig.model_validate(settings))


class BookSink:
    """A FrameSink that normalizes on arrival and keeps a Book per token, like the collector.

    Like the collector it is a ``BookWatch``: the session's per-asset watchdog reads its
    books. ``markets`` (token -> market) lets the watchdog tell which tokens share a market.
    """

    def __init__(self, markets: Mapping[str, str] | None = None) -> None:
        self.markets = dict(markets or {})
        self.normalizer = PolymarketNormalizer()
        self.books: dict[str, Book] = {}
        self.events: list[Event] = []
        self.frames: list[bytes] = []
        self.bodies: list[tuple[bytes, HttpMeta]] = []
        self.session_events: list[tuple[str, str, dict[str, Any]]] = []

    def on_frame(self, stream: str, payload: bytes, ts_recv_ns: int) -> None:
        self.frames.append(payload)
        self._apply(payload, ts_recv_ns)

    def on_http(self, stream: str, payload: bytes, ts_recv_ns: int, meta: HttpMeta) -> None:
        self.bodies.append((payload, meta))
        self._apply(payload, ts_recv_ns)

    def on_session_event(self, stream: str, kind: str, detail: dict[str, Any]) -> None:
        self.session_events.append((stream, kind, detail))
        if kind == "disconnected":
            for key in detail.get("keys", []):
                if key in self.books:
                    self.books[key].mark_stale(f"{stream} disconnected")

    def book_progress(self, key: str) -> tuple[int, int] | None:
        book = self.books.get(key)
        return None if book is None else (book.snapshots, book.seq)

    def market_of(self, key: str) -> str | None:
        return self.markets.get(key)

    def _apply(self, payload: bytes, ts_recv_ns: int) -> None:
        ts = ts_recv_ns // 1_000_000
        for ev in self.normalizer.normalize(payload, ts):
            self.events.append(ev)
            if isinstance(ev, BookSnapshot):
                self.books.setdefault(ev.key, Book(1000)).apply_snapshot(ev.bids, ev.asks, ts)
            elif isinstance(ev, BookDelta) and ev.key in self.books:
                self.books[ev.key].apply_changes(ev.changes, ts)

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [d for _, k, d in self.session_events if k == kind]

    def snapshots_of(self, key: str) -> int:
        return sum(1 for e in self.events if isinstance(e, BookSnapshot) and e.key == key)

    def matches(self, fake: FakePolymarket, key: str, top_k: int = 1000) -> bool:
        """Whether our book of ``key`` equals the fake's true book (top-K) and is not stale."""
        book = self.books.get(key)
        if book is None or book.stale_reason is not None:
            return False
        bids, asks = fake.true_book(key)
        mine_bids = [(p, book.bids[p]) for p in book.bid_prices()][:top_k]
        mine_asks = [(p, book.asks[p]) for p in book.ask_prices()][:top_k]
        return (mine_bids, mine_asks) == (bids[:top_k], asks[:top_k])


@contextlib.asynccontextmanager
async def running(session: VenueSession, sink: BookSink) -> AsyncIterator[None]:
    """Run ``session`` into ``sink`` for the body of the block, then cancel it cleanly."""
    task = asyncio.create_task(session.run(sink))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def settled(fake: FakePolymarket, sink: BookSink, keys: list[str]) -> None:
    """Pause the fake, let everything in flight arrive, and wait for every book to match."""
    await fake.quiesce()
    await eventually(lambda: all(sink.matches(fake, k) for k in keys), timeout_s=10)


def sim_wire(
    seed: int, markets: int, *, trade_ratio: float, snapshot_ratio: float
) -> tuple[SimGenerator, WireEncoder, int]:
    """A generator over ``markets`` lasting markets, refreshed at its anchor, and the encoder
    of its messages in the venue's wire format; plus that anchor time."""
    universe = SimUniverse(seed, markets=markets, rolling_share=0.0)
    gen = SimGenerator(universe, seed, trade_ratio=trade_ratio, snapshot_ratio=snapshot_ratio)
    now = universe.anchor_ms
    gen.refresh(now)
    return gen, WireEncoder(), now


def token_markets(fake: FakePolymarket) -> dict[str, str]:
    """Return token -> market of every market the fake lists."""
    return {t: m.market_id for m in fake.generator.active_markets for t in m.token_ids}


def lasting_tokens(fake: FakePolymarket, n: int) -> list[str]:
    """Return ``n`` tokens of markets that stay open well past the test, busiest first."""
    horizon = now_ms() + 3_600_000
    markets = sorted(
        (m for m in fake.generator.active_markets if m.close_ts > horizon),
        key=lambda m: m.activity,
        reverse=True,
    )
    return [t for m in markets for t in m.token_ids][:n]
