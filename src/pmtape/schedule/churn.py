"""Turn target sets into subscription actions without exceeding a venue's churn limit.

Counting: every key subscribed and every key unsubscribed is one change, however the
session batches keys into wire messages. At most ``churn_limit_per_minute`` changes are
planned in any sliding 60 s window; budget spent at ``t`` is free again at ``t + 60``.

Each call recomputes the diff between what is subscribed and the latest targets, so a
change the scheduler has since abandoned is never made; what does not fit the budget is
left for later calls (``SubscriptionPlanner.pending``). Within a call, with ``T`` the target
size and ``n`` the subscribed count:

1. while ``n < T``: subscribe the next missing key (HOT first, then WARM in rotation order);
2. then, while keys are both missing and surplus: subscribe one and unsubscribe one (a swap,
   two changes), so the subscribed set never grows past ``max(T, n)``;
3. then unsubscribe surplus keys only while ``n > T``.

An unsubscribe is therefore only ever planned beside the subscribe that replaces it, or
when more than ``T`` keys are subscribed: applying the plan's subscribes before its
unsubscribes never takes the subscribed count below ``min(T, n)``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Sequence
from typing import NamedTuple

from pmtape.schedule.scheduler import Targets


class SubscriptionPlan(NamedTuple):
    """Actions to apply now: every subscribe before any unsubscribe."""

    subscribe: list[str]
    unsubscribe: list[str]

    @property
    def changes(self) -> int:
        """Churn this plan spends."""
        return len(self.subscribe) + len(self.unsubscribe)


class SubscriptionPlanner:
    """Plans churn-limited subscription diffs for one venue (or one session)."""

    def __init__(self, churn_limit_per_minute: int, window_s: float = 60.0) -> None:
        if churn_limit_per_minute < 1 or window_s <= 0:
            raise ValueError("need churn_limit_per_minute >= 1 and window_s > 0")
        self.churn_limit_per_minute = churn_limit_per_minute
        self.window_s = window_s
        self.pending = 0
        self._spent: deque[float] = deque()

    def budget(self, now_mono_s: float) -> int:
        """Return how many changes may be made at ``now_mono_s``."""
        while self._spent and self._spent[0] <= now_mono_s - self.window_s:
            self._spent.popleft()
        return self.churn_limit_per_minute - len(self._spent)

    def next_budget_in_s(self, now_mono_s: float) -> float:
        """Return seconds until at least one change may be made (0.0 if one may now)."""
        if self.budget(now_mono_s) > 0:
            return 0.0
        return max(0.0, self._spent[0] + self.window_s - now_mono_s)

    def plan(
        self, subscribed: Collection[str], targets: Targets | Sequence[str], now_mono_s: float
    ) -> SubscriptionPlan:
        """Plan the next actions and charge them to the budget (they are assumed sent).

        ``targets`` is a ``Targets`` or the target keys in priority order (HOT first).
        ``subscribed`` is every key a subscribe was sent for and no unsubscribe since, acked
        or not: planning against acks alone would send the same subscribe twice. Changes
        left for later calls are in ``self.pending``.
        """
        ordered = [*targets.hot, *targets.warm] if isinstance(targets, Targets) else targets
        current, target_keys = set(subscribed), set(ordered)
        adds = _missing(current, ordered)
        removes = sorted(current.difference(target_keys))
        sub, unsub = _greedy(adds, removes, len(current), len(target_keys), self.budget(now_mono_s))
        self._spent.extend([now_mono_s] * (len(sub) + len(unsub)))
        self.pending = len(adds) - len(sub) + len(removes) - len(unsub)
        return SubscriptionPlan(subscribe=sub, unsubscribe=unsub)


def _missing(subscribed: set[str], ordered: Sequence[str]) -> list[str]:
    seen = set(subscribed)
    adds = []
    for key in ordered:
        if key not in seen:
            seen.add(key)
            adds.append(key)
    return adds


def _greedy(
    adds: list[str], removes: list[str], count: int, target: int, budget: int
) -> tuple[list[str], list[str]]:
    sub: list[str] = []
    unsub: list[str] = []
    while budget > 0:
        can_add = len(sub) < len(adds)
        can_remove = len(unsub) < len(removes)
        if can_add and count < target:
            sub.append(adds[len(sub)])
            count += 1
            budget -= 1
        elif can_add and can_remove and budget >= 2:
            sub.append(adds[len(sub)])
            unsub.append(removes[len(unsub)])
            budget -= 2
        elif can_remove and count > target:
            unsub.append(removes[len(unsub)])
            count -= 1
            budget -= 1
        else:
            break
    return sub, unsub
