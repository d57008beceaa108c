"""Shared pieces of the Kalshi tests: throwaway keys, an adapter on a fake, a book-keeping sink."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import rsa

from pmtape.config.models import KalshiVenueConfig
from pmtape.core.book import Book
from pmtape.core.events import BookDelta, BookSnapshot, Event, Level
from pmtape.net.session import HttpMeta, VenueSession
from pmtape.venues.base import Normalizer
from pmtape.venues.kalshi.adapter import KalshiAdapter
from pmtape.venues.kalshi.auth import generate_key_pair
from pmtape.venues.kalshi.fake.server import FakeKalshi
from pmtape.venues.kalshi.normalize import KalshiNormalizer
from tests.helpers import eventually

KEY_ID = "3f0c2a8e-5b1d-4c7e-9a6f-0d2e4b6a8c1e"


class TrueBooks(Protocol):
    def true_book(self, key: str) -> tuple[list[Level], list[Level]]: ...


def throwaway_key(tmp_path: Path, name: str = "kalshi.pem") -> tuple[Path, rsa.RSAPublicKey]:
    """Write a fresh private key under ``tmp_path``; return its path and public key."""
    path = tmp_path / name
    return path, generate_key_pair(path)


def adapter_for(fake: FakeKalshi, key_path: Path | None = None, **overrides: Any) -> KalshiAdapter:
    """Return the real adapter pointed at ``fake``, with quick test timings."""
    settings: dict[str, Any] = {
        "enabled": True,
        "rest_url": fake.urls["rest_url"],
        "ws_url": fake.urls["ws_url"],
        "reconnect_backoff_base_s": 0.05,
        "reconnect_backoff_max_s": 0.5,
        "poll_interval_s": 0.2,
        "rate_limits": {"read": 500},
        **overrides,
    }
    if key_path is not None:
        settings.setdefault("api_key_id", KEY_ID)
        settings["private_key_path"] = str(key_path)
    return KalshiAdapter(KalshiVenueConfig.model_validate(settings))


class BookSink:
    """A FrameSink that normalizes on arrival and keeps a Book per key, like the collector."""

    def __init__(self, normalizer: Normalizer | None = None) -> None:
        self.normalizer = normalizer or KalshiNormalizer()
        self.books: dict[str, Book] = {}
        self.events: list[Event] = []
        self.frames: list[bytes] = []
        self.bodies: list[tuple[bytes, HttpMeta]] = []
        self.session_events: list[tuple[str, str, dict[str, Any]]] = []
        self.stale_marks: Counter[str] = Counter()

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
                    self.stale_marks[key] += 1
                    self.books[key].mark_stale(str(detail.get("reason") or "disconnected"))

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

    def matches(self, fake: TrueBooks, key: str) -> bool:
        """Whether our book of ``key`` equals the fake's true book and is not stale."""
        book = self.books.get(key)
        if book is None or book.stale_reason is not None:
            return False
        mine = (
            [(p, book.bids[p]) for p in book.bid_prices()],
            [(p, book.asks[p]) for p in book.ask_prices()],
        )
        return mine == fake.true_book(key)


@contextlib.asynccontextmanager
async def running(session: VenueSession, sink: BookSink) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``session`` into ``sink`` for the body of the block, then cancel it cleanly."""
    task = asyncio.create_task(session.run(sink))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def settled(fake: FakeKalshi, sink: BookSink, keys: list[str]) -> None:
    """Pause the fake, let everything in flight arrive, and wait for every book to match."""
    await fake.quiesce()
    await eventually(lambda: all(sink.matches(fake, k) for k in keys), timeout_s=10)
