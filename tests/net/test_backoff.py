"""Backoff: delays grow, are randomized, are capped, never collapse to zero, reset when healthy."""

from __future__ import annotations

import random
import statistics

import pytest

from pmtape.net.backoff import Backoff, KeyBackoff


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_thousand_failures_wait_longer_and_longer_randomly_never_in_a_storm() -> None:
    backoff = Backoff(0.5, 30.0, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(1000)]
    assert all(0.05 <= d <= 30.0 for d in delays)
    early = statistics.mean(delays[:3])
    late = statistics.mean(delays[100:])
    assert late > 10 * early
    assert 12.0 < late < 18.0  # uniform up to the 30 s cap: mean about 15 s
    assert len(set(delays)) == len(delays)  # jittered, never lockstep
    # Not a thousand immediate reconnects: even the luckiest 1% wait a while.
    assert sorted(delays[10:])[9] > 0.2
    assert sum(delays) > 1000 * 10


def test_ceilings_double_up_to_the_cap() -> None:
    backoff = Backoff(1.0, 8.0, rng=random.Random(2))
    ceilings = []
    for _ in range(6):
        ceilings.append(backoff.ceiling())
        backoff.next_delay()
    assert ceilings == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_two_clients_failing_together_do_not_retry_in_lockstep() -> None:
    a = Backoff(1.0, 60.0, rng=random.Random(3))
    b = Backoff(1.0, 60.0, rng=random.Random(4))
    pairs = [(a.next_delay(), b.next_delay()) for _ in range(20)]
    assert sum(1 for x, y in pairs if abs(x - y) < 0.01) <= 1


def test_resets_only_after_a_healthy_period() -> None:
    clock = FakeClock()
    backoff = Backoff(1.0, 60.0, reset_after_s=30.0, rng=random.Random(5), clock=clock)
    for _ in range(5):
        backoff.next_delay()
    backoff.succeeded()
    clock.t += 5  # died soon after connecting: keep climbing
    backoff.next_delay()
    assert backoff.attempt == 6
    backoff.succeeded()
    clock.t += 31  # stayed up: start from the base again
    backoff.next_delay()
    assert backoff.attempt == 1


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="base_s"):
        Backoff(0.0, 1.0)
    with pytest.raises(ValueError, match="base_s"):
        Backoff(2.0, 1.0)


def test_key_backoff_is_per_key_monotonic_and_honours_retry_after() -> None:
    clock = FakeClock()
    keys: KeyBackoff[str] = KeyBackoff(1.0, 100.0, rng=random.Random(6), clock=clock)
    assert keys.ready("a")
    first = keys.failed("a")
    assert 0.5 <= first <= 1.0
    assert not keys.ready("a")
    assert keys.ready("b")
    clock.t += first
    assert keys.ready("a")
    second = keys.failed("a")
    assert 1.0 <= second <= 2.0
    assert keys.failures("a") == 2
    assert keys.failed("b", retry_after_s=50.0) >= 50.0
    assert keys.backing_off() == 2
    keys.succeeded("a")
    assert keys.ready("a")
    assert keys.failures("a") == 0
