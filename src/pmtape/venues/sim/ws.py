"""The sim venue's live session: in-process, no network, clocked in real time.

The whole universe evolves at ``updates_per_sec`` whether anyone listens or not; a session
delivers only the messages of its subscribed tokens, preceded by one ``book`` snapshot per
newly subscribed token (the venue's initial dump). A burst on one market arrives as one
array frame, as on a real venue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from pmtape.core.clock import mono_s, now_ms
from pmtape.net.session import FrameSink, VenueSession
from pmtape.venues.sim.constants import (
    FRAME_MAX_MESSAGES,
    SESSION_BOOKS_PER_TURN,
    SESSION_MAX_BACKLOG_S,
    SESSION_MAX_CHUNK,
    SESSION_TICK_S,
    STREAM,
)
from pmtape.venues.sim.generator import GenMessage, SimGenerator
from pmtape.venues.sim.messages import encode_frame


class SimSession(VenueSession):
    """A live stream of the sim venue, driven by a ``SimGenerator`` on the running loop."""

    def __init__(
        self,
        generator: SimGenerator,
        updates_per_sec: float,
        *,
        stream: str = STREAM,
        tick_s: float = SESSION_TICK_S,
        max_chunk: int = SESSION_MAX_CHUNK,
        max_backlog_s: float = SESSION_MAX_BACKLOG_S,
    ) -> None:
        if updates_per_sec <= 0 or tick_s <= 0 or max_chunk < 1:
            raise ValueError("need updates_per_sec > 0, tick_s > 0 and max_chunk >= 1")
        self.generator = generator
        self.stream = stream
        self._rate = updates_per_sec
        self._tick_s = tick_s
        self._max_chunk = max_chunk
        self._max_owed = max(updates_per_sec * max_backlog_s, float(max_chunk))
        self._subs: set[str] = set()
        self._pending: list[str] = []
        self._sink: FrameSink | None = None
        self._held: list[tuple[str, dict[str, int]]] = []
        self._primed: asyncio.Future[None] | None = None
        self._connected = False
        self.stats: dict[str, int] = {
            "generated": 0,
            "delivered": 0,
            "frames": 0,
            "ignored_keys": 0,
            "skipped": 0,
        }

    @property
    def connected(self) -> bool:
        """Whether ``run`` is live."""
        return self._connected

    @property
    def subscriptions(self) -> frozenset[str]:
        """Return the poll keys currently subscribed."""
        return frozenset(self._subs)

    async def run(self, sink: FrameSink) -> None:
        """Deliver frames to ``sink`` until cancelled."""
        await self._prime()
        self._sink = sink
        self._connected = True
        sink.on_session_event(self.stream, "connected", {"subscriptions": len(self._subs)})
        # Requests made before the connection are acknowledged once it is up, as on a venue.
        held, self._held = self._held, []
        for kind, detail in held:
            sink.on_session_event(self.stream, kind, detail)
        owed = 0.0
        last = mono_s()
        try:
            while True:
                # Behind schedule: yield to the loop, then catch up in another bounded chunk.
                await asyncio.sleep(0 if owed >= self._max_chunk else self._tick_s)
                now = mono_s()
                owed = self._cap(owed + (now - last) * self._rate)
                last = now
                owed -= self._turn(sink, int(min(owed, self._max_chunk)))
        finally:
            self._connected = False
            self._sink = None
            sink.on_session_event(self.stream, "disconnected", {"reason": "stopped"})

    async def subscribe(self, keys: Sequence[str]) -> None:
        """Start streaming these tokens, each from a full book; inactive ones are ignored."""
        await self._prime()
        gen = self.generator
        gen.refresh(now_ms())
        added = ignored = 0
        for key in keys:
            if key in self._subs:
                continue
            if gen.market_of(key) is None:
                ignored += 1
                continue
            self._subs.add(key)
            self._pending.append(key)
            added += 1
        self.stats["ignored_keys"] += ignored
        detail = {"count": added, "ignored": ignored, "total": len(self._subs)}
        self._event("subscribed", detail)

    async def unsubscribe(self, keys: Sequence[str]) -> None:
        """Stop streaming these tokens."""
        gone = {key for key in keys if key in self._subs}
        self._subs -= gone
        self._pending = [key for key in self._pending if key not in gone]
        self._event("unsubscribed", {"count": len(gone), "total": len(self._subs)})

    async def _prime(self) -> None:
        # Laying out a large universe takes seconds (about 30 us a market): once, off the loop.
        if self._primed is None:
            ts = now_ms()
            self._primed = asyncio.ensure_future(asyncio.to_thread(self.generator.refresh, ts))
        await asyncio.shield(self._primed)

    def _event(self, kind: str, detail: dict[str, int]) -> None:
        if self._sink is None:
            self._held.append((kind, detail))
        else:
            self._sink.on_session_event(self.stream, kind, detail)

    def _cap(self, owed: float) -> float:
        if owed > self._max_owed:
            self.stats["skipped"] += int(owed - self._max_owed)
            return self._max_owed
        return owed

    def _turn(self, sink: FrameSink, n: int) -> int:
        gen = self.generator
        ts = now_ms()
        gen.refresh(ts)
        if self._pending:
            self._send_books(sink, ts)
        if n <= 0:
            return 0
        msgs = gen.step(ts, n)
        self.stats["generated"] += len(msgs)
        subs = self._subs
        if self._pending:  # a book not yet sent gets no deltas before its snapshot
            waiting = set(self._pending)
            mine = [m for m in msgs if m.token in subs and m.token not in waiting]
        else:
            mine = [m for m in msgs if m.token in subs]
        if mine:
            self._deliver(sink, mine)
        return len(msgs)

    def _send_books(self, sink: FrameSink, ts: int) -> None:
        gen = self.generator
        # A bounded number of initial books per turn, so a large subscription never holds
        # the loop for long (the rest follow on the next turns, before any of their deltas).
        keys = self._pending[:SESSION_BOOKS_PER_TURN]
        self._pending = self._pending[SESSION_BOOKS_PER_TURN:]
        books: list[GenMessage] = [gen.snapshot_of(k, ts) for k in keys if gen.market_of(k)]
        for i in range(0, len(books), FRAME_MAX_MESSAGES):
            self._send(sink, books[i : i + FRAME_MAX_MESSAGES])

    def _deliver(self, sink: FrameSink, msgs: list[GenMessage]) -> None:
        # Consecutive messages of one market (a burst, or both tokens' halves of one change)
        # travel together, as a real venue batches them.
        frame = [msgs[0]]
        for msg in msgs[1:]:
            if msg.market == frame[-1].market and len(frame) < FRAME_MAX_MESSAGES:
                frame.append(msg)
            else:
                self._send(sink, frame)
                frame = [msg]
        self._send(sink, frame)

    def _send(self, sink: FrameSink, frame: list[GenMessage]) -> None:
        self.stats["frames"] += 1
        self.stats["delivered"] += len(frame)
        sink.on_frame(self.stream, encode_frame(frame), time.time_ns())
