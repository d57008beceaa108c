"""Async token buckets: a venue's documented request limits, several named buckets per venue.

A limit "N requests per W seconds" becomes a bucket of capacity N refilled at N/W tokens a
second on the monotonic clock. A request names every bucket it counts against (e.g.
``global`` and ``clob_book``) and waits until each has a token. A waiter reserves its token
up front (the balance may go negative) and sleeps until the refill covers it, so waiters are
served in arrival order, a burst is spread out instead of stampeding the venue the moment
tokens return, and no lock ties a bucket to one event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping

from pmtape.core.clock import mono_s


class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``rate_per_s``."""

    def __init__(
        self, rate_per_s: float, capacity: float, *, clock: Callable[[], float] = mono_s
    ) -> None:
        if rate_per_s <= 0 or capacity < 1:
            raise ValueError("need rate_per_s > 0 and capacity >= 1")
        self.rate_per_s = rate_per_s
        self.capacity = capacity
        self._clock = clock
        self._tokens = float(capacity)
        self._stamp = clock()
        self.waited_s = 0.0

    @property
    def tokens(self) -> float:
        """Return the tokens available now (negative while waiters hold reservations)."""
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate_per_s)
        self._stamp = now

    def try_acquire(self, n: float = 1.0) -> bool:
        """Take ``n`` tokens if they are there now; never waits."""
        self._refill()
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    async def acquire(self, n: float = 1.0) -> None:
        """Take ``n`` tokens, waiting (in arrival order) until the refill covers them."""
        if n > self.capacity:
            raise ValueError(f"cannot take {n} tokens from a bucket of {self.capacity}")
        self._refill()
        self._tokens -= n
        if self._tokens < 0:
            wait = -self._tokens / self.rate_per_s
            self.waited_s += wait
            await asyncio.sleep(wait)


class RateLimiter:
    """A venue's named buckets; a request takes one token from each bucket it names."""

    def __init__(
        self,
        limits: Mapping[str, int],
        window_s: float,
        *,
        clock: Callable[[], float] = mono_s,
    ) -> None:
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.buckets = {
            name: TokenBucket(count / window_s, count, clock=clock)
            for name, count in limits.items()
        }

    async def acquire(self, names: Iterable[str]) -> None:
        """Wait for a token from every named bucket (unknown names are a programming error)."""
        for name in names:
            bucket = self.buckets.get(name)
            if bucket is None:
                raise KeyError(f"no rate-limit bucket named {name!r}")
            await bucket.acquire()

    def waited_s(self) -> dict[str, float]:
        """Return the total seconds spent waiting, per bucket."""
        return {name: b.waited_s for name, b in self.buckets.items()}
