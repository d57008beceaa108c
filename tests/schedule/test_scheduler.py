"""HOT choice, WARM rotation and universe changes of the scheduler."""

from __future__ import annotations

import math
from typing import Any

import pytest

from pmtape.core.instrument import Instrument
from pmtape.schedule.scheduler import Scheduler, ScheduleSettings


def inst(n: int, venue: str = "v", **kw: Any) -> Instrument:
    return Instrument(
        venue=venue, market_id=f"m{n:03d}", instrument_id="yes", poll_key=f"p{n}", **kw
    )


def key(n: int, venue: str = "v") -> str:
    return f"{venue}:m{n:03d}:yes"


def universe(count: int) -> list[Instrument]:
    return [inst(n, activity=float(n % 7)) for n in range(count)]


def test_hot_by_activity_then_soonest_expiration_then_key() -> None:
    instruments = [
        inst(0, activity=1.0),
        inst(1, activity=5.0, expiration=9_000),
        inst(2, activity=5.0, expiration=3_000),
        inst(3, activity=5.0),
        inst(4, activity=5.0),
        inst(5),
        inst(6, activity=math.nan),
        inst(7, activity=2.0),
    ]
    scheduler = Scheduler("v", hot_count=6, max_subs=8, rotation_period_s=60)
    scheduler.update_universe(instruments, None)
    assert scheduler.hot_source == "activity"
    assert scheduler.targets(0.0).hot == [key(2), key(1), key(3), key(4), key(7), key(0)]


def test_hot_from_stats_cache_ranks_scored_first() -> None:
    instruments = [inst(n, activity=float(n)) for n in range(6)]
    scores = {key(1): 0.9, key(0): 0.5, key(2): 0.9, "v:gone:yes": 1.0}
    scheduler = Scheduler("v", hot_count=4, max_subs=6, rotation_period_s=60)
    scheduler.update_universe(instruments, scores)
    assert scheduler.hot_source == "stats"
    # ties on score broken by activity; unscored ones follow by activity
    assert scheduler.targets(0.0).hot == [key(2), key(1), key(0), key(5)]


@pytest.mark.parametrize("scores", [None, {}, {"v:other:yes": 1.0}, {key(3): math.nan}])
def test_stats_that_score_nothing_fall_back_to_activity(scores: dict[str, float] | None) -> None:
    scheduler = Scheduler("v", hot_count=2, max_subs=4, rotation_period_s=60)
    scheduler.update_universe(universe(6), scores)
    assert scheduler.hot_source == "activity"
    assert scheduler.targets(0.0).hot == [key(5), key(4)]


def test_other_venues_are_ignored() -> None:
    scheduler = Scheduler("v", hot_count=1, max_subs=3, rotation_period_s=60)
    scheduler.update_universe([inst(0), inst(1, venue="w"), inst(2)], None)
    assert scheduler.targets(0.0).keys == {key(0), key(2)}
    assert set(scheduler.instruments) == {key(0), key(2)}


@pytest.mark.parametrize(
    ("count", "hot", "max_subs"), [(100, 10, 30), (101, 10, 30), (57, 0, 8), (40, 5, 6)]
)
def test_warm_rotation_visits_every_instrument_in_time(count: int, hot: int, max_subs: int) -> None:
    period = 180.0
    scheduler = Scheduler("v", hot_count=hot, max_subs=max_subs, rotation_period_s=period)
    scheduler.update_universe(universe(count), None)
    candidates = count - hot
    periods = math.ceil(candidates / (max_subs - hot))
    seen: set[str] = set()
    hot_keys: set[str] = set()
    for p in range(periods):
        for t in (p * period, p * period + period / 2):  # two calls a period
            targets = scheduler.targets(t)
            assert len(targets.hot) + len(targets.warm) <= max_subs
            assert len(targets.warm) == max_subs - hot
            assert not set(targets.hot) & set(targets.warm)
            hot_keys = set(targets.hot)
            seen |= set(targets.warm)
    assert seen | hot_keys == {key(n) for n in range(count)}
    assert scheduler.rotations == periods - 1


def test_sliding_window_moves_by_the_step_and_visits_everything() -> None:
    scheduler = Scheduler("v", hot_count=0, max_subs=8, rotation_period_s=1, rotation_step=3)
    scheduler.update_universe(universe(50), None)
    windows = [scheduler.targets(float(t)).warm for t in range(math.ceil((50 - 8) / 3) + 1)]
    assert windows[1][:5] == windows[0][3:]  # slides by 3, keeps 5
    assert set().union(*windows) == {key(n) for n in range(50)}


def test_from_settings_sizes_the_step_to_the_churn_limit() -> None:
    # 20 a minute for 180 s: 30 swaps a period, three quarters of them for rotation
    assert Scheduler.from_settings("v", ScheduleSettings()).rotation_step == 22
    config = ScheduleSettings(churn_limit_per_minute=1, rotation_period_s=10)
    assert Scheduler.from_settings("v", config).rotation_step == 1


def test_small_universe_subscribes_everything_without_rotating() -> None:
    scheduler = Scheduler("v", hot_count=3, max_subs=10, rotation_period_s=1)
    scheduler.update_universe(universe(7), None)
    first = scheduler.targets(0.0)
    assert first.keys == {key(n) for n in range(7)}
    assert scheduler.targets(5.0) == first


def test_rotation_waits_a_period_and_a_late_call_rotates_once() -> None:
    scheduler = Scheduler("v", hot_count=0, max_subs=2, rotation_period_s=10)
    scheduler.update_universe(universe(10), None)
    assert scheduler.targets(100.0).warm == [key(0), key(1)]
    assert scheduler.targets(109.9).warm == [key(0), key(1)]
    assert scheduler.targets(110.0).warm == [key(2), key(3)]
    assert scheduler.targets(175.0).warm == [key(4), key(5)]  # late: one step, none skipped
    assert scheduler.targets(184.9).warm == [key(4), key(5)]
    assert scheduler.targets(185.0).warm == [key(6), key(7)]


def test_hot_plus_warm_never_exceeds_max_subs_from_settings() -> None:
    config = ScheduleSettings(max_subs=12, hot_count=12, rotation_period_s=30)
    scheduler = Scheduler.from_settings("v", config)
    scheduler.update_universe(universe(50), None)
    targets = scheduler.targets(0.0)
    assert (len(targets.hot), targets.warm) == (12, [])


def test_universe_change_keeps_rotation_going() -> None:
    period = 60.0
    scheduler = Scheduler("v", hot_count=2, max_subs=7, rotation_period_s=period)
    scheduler.update_universe(universe(30), None)
    t = 0.0
    for _ in range(3):
        scheduler.targets(t)
        t += period
    # remove a block that includes the window now showing, add new ones on both sides of it
    current = scheduler.targets(t)
    removed = set(current.warm[:3]) | {key(n) for n in range(20, 25)}
    kept = [i for i in universe(30) if i.instrument_key not in removed]
    added = [inst(n, activity=0.0) for n in (100, 101, 102)] + [
        inst(n, activity=0.0) for n in (1001, 1002)
    ]
    scheduler.update_universe(kept + added, None)
    live = {i.instrument_key for i in kept + added}
    hot = set(scheduler.targets(t).hot)
    ring = live - hot
    seen: set[str] = set()
    for _ in range(math.ceil(len(ring) / scheduler.warm_slots)):
        targets = scheduler.targets(t)
        assert set(targets.warm) <= live
        assert len(targets.warm) == scheduler.warm_slots
        seen |= set(targets.warm)
        t += period
    assert seen == ring


def test_universe_shrinking_below_the_window_keeps_working() -> None:
    scheduler = Scheduler("v", hot_count=1, max_subs=4, rotation_period_s=1)
    scheduler.update_universe(universe(20), None)
    for t in range(5):
        scheduler.targets(float(t))
    scheduler.update_universe(universe(20)[:3], None)
    assert scheduler.targets(10.0).keys == {key(0), key(1), key(2)}
    scheduler.update_universe([], None)
    targets = scheduler.targets(20.0)
    assert (targets.hot, targets.warm) == ([], [])
    scheduler.update_universe(universe(20), None)
    assert len(scheduler.targets(30.0).warm) == 3


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="max_subs"):
        Scheduler("v", hot_count=1, max_subs=0, rotation_period_s=1)
    with pytest.raises(ValueError, match="rotation_period_s"):
        Scheduler("v", hot_count=1, max_subs=1, rotation_period_s=0)
    with pytest.raises(ValueError, match="rotation_step"):
        Scheduler("v", hot_count=1, max_subs=1, rotation_period_s=1, rotation_step=0)
