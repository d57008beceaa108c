"""Token buckets: capacity, refill rate, waiting in order, several named buckets."""

from __future__ import annotations

import asyncio
import time

import pytest

from pmtape.net.ratelimit import RateLimiter, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_bucket_holds_capacity_and_refills_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, 5, clock=clock)
    assert [bucket.try_acquire() for _ in range(6)] == [True] * 5 + [False]
    clock.t += 0.25  # 2.5 tokens back
    assert [bucket.try_acquire() for _ in range(3)] == [True, True, False]
    clock.t += 100
    assert bucket.tokens == 5  # never above capacity


@pytest.mark.asyncio
async def test_acquire_waits_for_the_refill_in_arrival_order() -> None:
    bucket = TokenBucket(50.0, 2)
    order: list[int] = []

    async def take(i: int) -> None:
        await bucket.acquire()
        order.append(i)

    started = time.monotonic()
    await asyncio.gather(*(take(i) for i in range(7)))
    # 2 at once, then 5 more at 50/s: at least 0.1 s however fast the machine.
    assert time.monotonic() - started >= 0.09
    assert order == list(range(7))
    assert bucket.waited_s > 0


@pytest.mark.asyncio
async def test_limiter_takes_from_every_named_bucket() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"global": 100, "book": 2}, 10.0, clock=clock)
    await limiter.acquire(["global", "book"])
    await limiter.acquire(["global", "book"])
    assert limiter.buckets["book"].tokens == 0
    assert limiter.buckets["global"].tokens == 98
    with pytest.raises(KeyError, match="nope"):
        await limiter.acquire(["nope"])


def test_a_request_larger_than_the_bucket_is_refused() -> None:
    bucket = TokenBucket(1.0, 1)
    with pytest.raises(ValueError, match="cannot take"):
        asyncio.run(bucket.acquire(2))
