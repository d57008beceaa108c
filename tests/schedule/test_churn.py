"""Churn-limited subscription planning."""

from __future__ import annotations

import math
import random
from bisect import bisect_left

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmtape.core.instrument import Instrument
from pmtape.schedule.churn import SubscriptionPlan, SubscriptionPlanner
from pmtape.schedule.scheduler import Scheduler, ScheduleSettings, Targets


class Subscriptions:
    """A recording session: applies plans subscribes-first and checks the count floor."""

    def __init__(self, keys: set[str] | None = None) -> None:
        self.keys = set(keys or ())
        self.changes: list[float] = []
        self.subscribed_ever: set[str] = set()

    def apply(self, plan: SubscriptionPlan, targets: Targets, now: float) -> None:
        floor = min(len(targets.keys), len(self.keys))
        for key in plan.subscribe:
            assert key not in self.keys
            self.keys.add(key)
            self.subscribed_ever.add(key)
        for key in plan.unsubscribe:
            self.keys.remove(key)
            assert len(self.keys) >= floor
        self.changes.extend([now] * plan.changes)


def max_in_any_window(times: list[float], window_s: float = 60.0) -> int:
    times = sorted(times)
    return max(
        (bisect_left(times, t + window_s) - i for i, t in enumerate(times)),
        default=0,
    )


def keys(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n:03d}" for n in range(count)]


def test_churn_limit_holds_in_every_window_over_an_hour() -> None:
    rng = random.Random(7)
    universe = [
        Instrument(
            venue="v", market_id=f"m{n}", instrument_id="y", poll_key=f"p{n}", activity=rng.random()
        )
        for n in range(300)
    ]
    scheduler = Scheduler("v", hot_count=10, max_subs=50, rotation_period_s=60)
    scheduler.update_universe(universe, None)
    planner = SubscriptionPlanner(churn_limit_per_minute=20)
    session = Subscriptions()
    now = 0.0
    while now < 3600:
        if 1800 <= now < 1803:  # the stats cache arrives: a new HOT set
            scores = {i.instrument_key: rng.random() for i in universe}
            scheduler.update_universe(universe, scores)
        targets = scheduler.targets(now)
        session.apply(planner.plan(session.keys, targets, now), targets, now)
        assert len(session.keys) <= 50
        now += rng.uniform(0.2, 4.0)
    assert len(session.changes) > 20 * 50  # the limit was the binding constraint
    assert max_in_any_window(session.changes) <= 20


def run_collector(
    scheduler: Scheduler, planner: SubscriptionPlanner, minutes: int
) -> Subscriptions:
    session = Subscriptions()
    for second in range(minutes * 60):
        targets = scheduler.targets(float(second))
        session.apply(planner.plan(session.keys, targets, float(second)), targets, float(second))
    return session


def test_churn_sized_rotation_really_subscribes_every_instrument() -> None:
    config = ScheduleSettings(
        max_subs=20, hot_count=4, rotation_period_s=60, churn_limit_per_minute=8
    )
    universe = [
        Instrument(venue="v", market_id=f"m{n:03d}", instrument_id="y", poll_key="p")
        for n in range(116)  # 4 HOT + a ring of 112 = 7 whole WARM windows of 16
    ]
    everyone = {i.instrument_key for i in universe}
    sized = Scheduler.from_settings("v", config)  # step 3: 6 of the 8 changes a period
    assert sized.rotation_step == 3
    sized.update_universe(universe, None)
    periods = math.ceil((112 - 16) / 3) + 1
    # + 3 minutes: the first 20 subscriptions take 3 minutes of budget on their own
    session = run_collector(sized, SubscriptionPlanner(8), minutes=periods + 3)
    assert session.subscribed_ever == everyone
    # Whole-window steps with the same budget: windows line up lap after lap and only the
    # first few keys of each are ever subscribed before the window moves on.
    whole = Scheduler("v", config.hot_count, config.max_subs, config.rotation_period_s)
    whole.update_universe(universe, None)
    session = run_collector(whole, SubscriptionPlanner(8), minutes=periods + 3)
    assert len(everyone - session.subscribed_ever) > 40  # about half the ring


def test_a_big_diff_is_spread_over_the_following_minutes() -> None:
    targets = Targets(hot=keys("h", 10), warm=keys("w", 90))
    session = Subscriptions(set(keys("old", 100)))
    planner = SubscriptionPlanner(churn_limit_per_minute=20)
    first = planner.plan(session.keys, targets, 0.0)
    assert first.subscribe == keys("h", 10)  # HOT first, each paired with an unsubscribe
    assert len(first.unsubscribe) == 10
    assert planner.pending == 200 - 20
    session.apply(first, targets, 0.0)
    done_at = None
    for second in range(1, 900):
        plan = planner.plan(session.keys, targets, float(second))
        session.apply(plan, targets, float(second))
        if done_at is None and session.keys == targets.keys:
            done_at = second
            assert planner.pending == 0
    assert done_at == 9 * 60  # 200 changes at 20 a minute: minutes 0..9
    assert max_in_any_window(session.changes) <= 20


def test_obsolete_work_is_not_done() -> None:
    old, new = keys("a", 20), keys("b", 20)
    planner = SubscriptionPlanner(churn_limit_per_minute=10)
    session = Subscriptions(set(old))
    to_new = Targets(hot=[], warm=new)
    session.apply(planner.plan(session.keys, to_new, 0.0), to_new, 0.0)
    assert len(session.subscribed_ever) == 5
    back = Targets(hot=[], warm=old)  # the target moved back before the diff finished
    plan = planner.plan(session.keys, back, 60.0)
    assert set(plan.subscribe) <= set(old)
    session.apply(plan, back, 60.0)
    assert session.keys == set(old)
    assert planner.pending == 0
    assert session.subscribed_ever == set(new[:5]) | set(old[:5])


def test_startup_subscribes_only_and_shrink_unsubscribes_surplus() -> None:
    planner = SubscriptionPlanner(churn_limit_per_minute=20)
    targets = Targets(hot=keys("h", 5), warm=keys("w", 45))
    plan = planner.plan(set(), targets, 0.0)
    assert (len(plan.subscribe), plan.unsubscribe, planner.pending) == (20, [], 30)
    shrink = Targets(hot=keys("h", 5), warm=[])
    planner = SubscriptionPlanner(20)
    plan = planner.plan(set(keys("h", 5) + keys("w", 30)), shrink, 0.0)
    assert (plan.subscribe, len(plan.unsubscribe), planner.pending) == ([], 20, 10)


def test_budget_frees_sixty_seconds_after_it_was_spent() -> None:
    planner = SubscriptionPlanner(churn_limit_per_minute=4)
    targets = Targets(hot=keys("h", 10), warm=[])
    assert planner.plan(set(), targets, 10.0).changes == 4
    assert planner.budget(69.9) == 0
    assert planner.next_budget_in_s(40.0) == pytest.approx(30.0)
    assert planner.plan(set(keys("h", 4)), targets, 50.0).changes == 0
    assert planner.next_budget_in_s(70.0) == 0.0
    assert planner.plan(set(keys("h", 4)), targets, 70.0).subscribe == keys("h", 10)[4:8]


def test_odd_budget_does_not_overshoot_the_target_size() -> None:
    planner = SubscriptionPlanner(churn_limit_per_minute=3)
    add, drop = planner.plan({"o1", "o2"}, ["n1", "n2"], 0.0)  # keys in priority order
    assert (add, drop, planner.pending) == (["n1"], ["o1"], 2)


key_sets = st.sets(st.sampled_from(keys("k", 30)), max_size=30)


@given(
    subscribed=key_sets,
    hot=key_sets,
    warm=key_sets,
    limit=st.integers(min_value=1, max_value=25),
)
def test_any_plan_respects_budget_order_and_floor(
    subscribed: set[str], hot: set[str], warm: set[str], limit: int
) -> None:
    targets = Targets(hot=sorted(hot), warm=sorted(warm - hot))
    planner = SubscriptionPlanner(limit)
    plan = planner.plan(subscribed, targets, 0.0)
    missing = [k for k in (*targets.hot, *targets.warm) if k not in subscribed]
    assert plan.changes <= limit
    assert plan.subscribe == missing[: len(plan.subscribe)]  # HOT first, in target order
    assert set(plan.unsubscribe) <= subscribed - targets.keys
    assert planner.pending == len(missing) + len(subscribed - targets.keys) - plan.changes
    session = Subscriptions(subscribed)
    session.apply(plan, targets, 0.0)
    assert len(session.keys) <= max(len(targets.keys), len(subscribed))
    if planner.pending and limit >= 2:
        assert plan.changes >= limit - 1  # budget not left idle while work remains
