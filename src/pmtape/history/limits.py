"""Request pacing of the backfill: token buckets below the documented limits, and latency.

Each venue declares its documented limits (requests per window, per API and endpoint
class); the backfill runs one token bucket per class at ``share`` of them (80% by default,
so a full-speed run never meets a 429). Polymarket throttles by delaying answers before it
refuses them (PROTOCOLS §1.2), so the ``LatencyGovernor`` also watches answer latency and
makes workers pause while it climbs well above the best seen.
"""

from __future__ import annotations

from collections.abc import Mapping

from pmtape.net.ratelimit import RateLimiter, TokenBucket

DEFAULT_SHARE = 0.8


def scaled_limiter(limits: Mapping[str, int], window_s: float, share: float) -> RateLimiter:
    """Return buckets that never send more than a documented limit in any sliding window.

    A bucket refilling ``N/W`` a second with a burst of ``N`` sends up to ``2N`` in a
    window ``W`` (the burst, then the refill), and the venue's windows slide. So each bucket
    refills at ``share`` of the limit and bursts only half the rest: at most
    ``(1 + share) / 2`` of the limit in any window (90% at the default share).
    """
    if not 0 < share <= 1:
        raise ValueError(f"rate share must be in (0, 1], got {share}")
    limiter = RateLimiter({}, window_s)
    for name, count in limits.items():
        burst = max(1.0, count * (1 - share) / 2)
        limiter.buckets[name] = TokenBucket(count * share / window_s, burst)
    return limiter


class LatencyGovernor:
    """Pause requests while answers come much slower than the best seen (throttling)."""

    def __init__(self, *, factor: float = 4.0, floor_s: float = 0.5, max_pause_s: float = 5.0):
        self.factor = factor
        self.floor_s = floor_s
        self.max_pause_s = max_pause_s
        self.best_s: float | None = None
        self.ewma_s: float | None = None
        self.pauses = 0

    def observe(self, latency_s: float) -> None:
        """Record one answer's latency."""
        self.best_s = latency_s if self.best_s is None else min(self.best_s, latency_s)
        self.ewma_s = latency_s if self.ewma_s is None else 0.8 * self.ewma_s + 0.2 * latency_s

    def pause_s(self) -> float:
        """Return how long to wait before the next request (0: none)."""
        if self.best_s is None or self.ewma_s is None:
            return 0.0
        if self.ewma_s <= max(self.floor_s, self.factor * self.best_s):
            return 0.0
        self.pauses += 1
        return min(self.ewma_s - self.best_s, self.max_pause_s)
