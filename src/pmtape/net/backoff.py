"""Exponential backoff with full jitter on the monotonic clock, and its per-key form.

A delay is drawn uniformly from ``[floor, min(max_s, base_s * 2**attempt)]`` ("full
jitter"), so a crowd of clients that failed together spreads out instead of retrying in
lockstep, and a long run of failures keeps waiting up to ``max_s`` each time instead of
hammering. A connection that stayed healthy for ``reset_after_s`` starts again from the
base; one that dies right after connecting keeps climbing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from pmtape.core.clock import mono_s

K = TypeVar("K", bound=Hashable)

_MAX_EXP = 62  # 2**62 * base overflows nothing and is far past any max_s


class Backoff:
    """Delays for consecutive failures: exponential, capped, fully jittered."""

    def __init__(
        self,
        base_s: float = 0.5,
        max_s: float = 60.0,
        *,
        reset_after_s: float = 30.0,
        floor_ratio: float = 0.1,
        rng: random.Random | None = None,
        clock: Callable[[], float] = mono_s,
    ) -> None:
        if base_s <= 0 or max_s < base_s or not 0 <= floor_ratio <= 1:
            raise ValueError("need 0 < base_s <= max_s and 0 <= floor_ratio <= 1")
        self.base_s = base_s
        self.max_s = max_s
        self.reset_after_s = reset_after_s
        # A small floor keeps even an unlucky draw from being an immediate retry.
        self._floor = base_s * floor_ratio
        self._rng = rng or random.Random()
        self._clock = clock
        self.attempt = 0
        self._healthy_since: float | None = None

    def ceiling(self) -> float:
        """Return the upper bound of the next delay."""
        return min(self.max_s, self.base_s * (1 << min(self.attempt, _MAX_EXP)))

    def next_delay(self) -> float:
        """Record one failure and return how long to wait before the next try."""
        if self._healthy_since is not None:
            if self._clock() - self._healthy_since >= self.reset_after_s:
                self.attempt = 0
            self._healthy_since = None
        delay = self._rng.uniform(self._floor, max(self._floor, self.ceiling()))
        self.attempt += 1
        return delay

    def succeeded(self) -> None:
        """Record a success; the delays reset once it has lasted ``reset_after_s``."""
        self._healthy_since = self._clock()

    def reset(self) -> None:
        """Forget every failure now."""
        self.attempt = 0
        self._healthy_since = None


class KeyBackoff(Generic[K]):
    """Per-key backoff (e.g. per instrument): which keys may be tried now, and until when not."""

    def __init__(
        self,
        base_s: float = 1.0,
        max_s: float = 300.0,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = mono_s,
    ) -> None:
        if base_s <= 0 or max_s < base_s:
            raise ValueError("need 0 < base_s <= max_s")
        self.base_s = base_s
        self.max_s = max_s
        self._rng = rng or random.Random()
        self._clock = clock
        self._until: dict[K, float] = {}
        self._fails: dict[K, int] = {}

    def ready(self, key: K) -> bool:
        """Return whether ``key`` may be tried now."""
        until = self._until.get(key)
        return until is None or self._clock() >= until

    def failed(self, key: K, retry_after_s: float | None = None) -> float:
        """Record a failure of ``key``; return the delay before it may be tried again."""
        n = self._fails.get(key, 0)
        self._fails[key] = n + 1
        ceiling = min(self.max_s, self.base_s * (1 << min(n, _MAX_EXP)))
        delay = self._rng.uniform(ceiling / 2, ceiling)
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        self._until[key] = self._clock() + delay
        return delay

    def succeeded(self, key: K) -> None:
        """Clear the failures of ``key``."""
        self._until.pop(key, None)
        self._fails.pop(key, None)

    def failures(self, key: K) -> int:
        """Return the consecutive failures of ``key``."""
        return self._fails.get(key, 0)

    def forget(self, key: K) -> None:
        """Drop ``key`` entirely (e.g. it is no longer wanted)."""
        self.succeeded(key)

    def backing_off(self) -> int:
        """Return how many keys are waiting now."""
        now = self._clock()
        return sum(1 for until in self._until.values() if until > now)
