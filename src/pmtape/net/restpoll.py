"""A session that polls REST books for its keys on a cadence and hands the bodies to the sink.

Per cycle it fetches every key that is not backing off, one key a request or in batches
(the venue's ``fetch`` decides what a batch is), with a few requests in flight. A failure
about the keys themselves (4xx: unknown token, no book) backs off those keys (monotonic
clock, exponential with jitter); venue-wide trouble (429, 5xx, timeouts) puts the venue in
its cooldown instead, which the HTTP client and this loop honour before anything else is
sent (``Retry-After`` when given). Bodies go to ``sink.on_http`` exactly as received, error
answers' bodies too (their ``meta.status`` says so), before the error's session event.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pmtape.core.clock import mono_s
from pmtape.core.errors import VenueError
from pmtape.net.backoff import KeyBackoff
from pmtape.net.http import Cooldown, classify, error_answer
from pmtape.net.session import FrameSink, HttpMeta, VenueSession

Fetch = Callable[[Sequence[str]], Awaitable[list[tuple[bytes, int, HttpMeta]]]]
"""Fetch the books of some keys: one (body, ts_recv_ns, meta) per HTTP response."""


@dataclass(frozen=True, kw_only=True)
class PollSettings:
    """How a REST poller paces itself."""

    stream: str = "rest"
    interval_s: float = 2.0
    """Start a new cycle over all keys at most this often."""
    batch_size: int = 1
    """Keys per request: 1 polls per instrument, more uses the venue's batch endpoint."""
    concurrency: int = 4
    key_backoff_base_s: float = 1.0
    key_backoff_max_s: float = 300.0


class RestPollSession(VenueSession):
    """A venue session that polls books over REST instead of streaming them."""

    def __init__(
        self,
        fetch: Fetch,
        settings: PollSettings,
        *,
        cooldown: Cooldown | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if settings.batch_size < 1 or settings.concurrency < 1 or settings.interval_s <= 0:
            raise ValueError("need batch_size >= 1, concurrency >= 1 and interval_s > 0")
        self.settings = settings
        self._fetch = fetch
        self._cooldown = cooldown or Cooldown()
        self._on_close = on_close
        self.backoff: KeyBackoff[str] = KeyBackoff(
            settings.key_backoff_base_s, settings.key_backoff_max_s, rng=rng
        )
        self._keys: dict[str, None] = {}
        self._running = False
        self.stats: Counter[str] = Counter()

    @property
    def connected(self) -> bool:
        """Whether the poller runs and the venue is not in a cooldown."""
        return self._running and self._cooldown.remaining() == 0

    @property
    def subscriptions(self) -> frozenset[str]:
        """Return the keys being polled."""
        return frozenset(self._keys)

    async def subscribe(self, keys: Sequence[str]) -> None:
        """Start polling these keys from the next cycle."""
        self._keys.update(dict.fromkeys(keys))

    async def unsubscribe(self, keys: Sequence[str]) -> None:
        """Stop polling these keys."""
        for key in keys:
            self._keys.pop(key, None)
            self.backoff.forget(key)

    async def resync(self, keys: Sequence[str]) -> None:
        """Every cycle already fetches full books: clear backoff so these go next cycle."""
        for key in keys:
            self.backoff.succeeded(key)

    async def aclose(self) -> None:
        """Release the venue client, if the poller owns one."""
        close, self._on_close = self._on_close, None
        if close is not None:
            await close()

    async def run(self, sink: FrameSink) -> None:
        """Poll until cancelled."""
        st = self.settings
        self._running = True
        sink.on_session_event(st.stream, "connected", {"keys": len(self._keys)})
        try:
            while True:
                started = mono_s()
                await self._cycle(sink)
                self.stats["cycles"] += 1
                await asyncio.sleep(max(0.0, st.interval_s - (mono_s() - started)))
        finally:
            self._running = False
            await self.aclose()

    async def _cycle(self, sink: FrameSink) -> None:
        due = [k for k in self._keys if self.backoff.ready(k)]
        batches = _chunks(due, self.settings.batch_size)
        n_batches = -(-len(due) // self.settings.batch_size)
        workers = max(1, min(self.settings.concurrency, n_batches))
        await asyncio.gather(*(self._worker(batches, sink) for _ in range(workers)))

    async def _worker(self, batches: Iterator[list[str]], sink: FrameSink) -> None:
        for batch in batches:
            while (left := self._cooldown.remaining()) > 0:
                self.stats["cooldown_waits"] += 1
                await asyncio.sleep(left)
            batch = [k for k in batch if k in self._keys]
            if batch:
                await self._poll(batch, sink)

    async def _poll(self, batch: list[str], sink: FrameSink) -> None:
        stream = self.settings.stream
        self.stats["requests"] += 1
        try:
            responses = await self._fetch(batch)
        except VenueError as exc:
            self.stats["errors"] += 1
            answer = error_answer(exc)
            if answer is not None:
                sink.on_http(stream, answer.body, answer.ts_recv_ns, answer.meta)
            verdict = classify(exc)
            if verdict != "retry":
                # About these keys (unknown, no book, refused): back them off one by one.
                # Venue-wide trouble (429, 5xx, timeouts) is the cooldown's job instead.
                for key in batch:
                    self.backoff.failed(key)
            detail: dict[str, Any] = {"keys": batch, "error": str(exc)[:200], "verdict": verdict}
            if answer is not None:  # its body went to on_http (counted there, not again)
                detail["answer_status"] = answer.meta.status
            sink.on_session_event(stream, "error", detail)
            return
        for body, ts_recv_ns, meta in responses:
            self.stats["bodies"] += 1
            sink.on_http(stream, body, ts_recv_ns, meta)
        for key in batch:
            self.backoff.succeeded(key)


def _chunks(keys: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(keys), size):
        yield keys[i : i + size]
