"""Choose a venue's target subscriptions: a fixed HOT set plus a rotating WARM window.

HOT ranking, highest first:

* with a stats cache (``hot_source == "stats"``): instruments with a score, by score; those
  without one follow, in activity order;
* otherwise (``"activity"``): by ``Instrument.activity`` (missing or NaN ranks last), then by
  the soonest expiration (no expiration ranks last) — markets near resolution move most, and
  a long-dated market with no reported activity is the least likely to be interesting.

Every remaining tie is broken by instrument key, so a universe always gives the same HOT set.

WARM: the other instruments, in key order, form a ring. The WARM window is the next
``max_subs - len(HOT)`` keys of the ring starting at a cursor key; each rotation moves the
cursor ``rotation_step`` keys on (default: the whole window, so consecutive windows tile the
ring). The cursor is a key, not an index: when instruments appear or disappear the window
starts at the first key at or after it, so the ring keeps turning, new instruments are
reached in their place and removed ones simply drop out.

A smaller step makes the window slide. ``from_settings`` sizes it to what the churn limit can
deliver: a WARM swap costs two changes (subscribe + unsubscribe), so one period affords
``churn_limit_per_minute * rotation_period_s / 120`` swaps; the step takes three quarters of
that, leaving room for HOT changes and for catching up after start-up. With the defaults
(160 WARM slots, 180 s, 20 a minute) a whole-window step would ask for 320 changes a period
while 60 are allowed, and most of each window would never be subscribed before it moved on.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import msgspec

from pmtape.core.instrument import Instrument

HotSource = Literal["stats", "activity"]

_STEP_SHARE = 0.75  # of the churn budget, for WARM rotation


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    """One venue's scheduling numbers: how many subscriptions, how many HOT, how fast WARM turns."""

    max_subs: int = 200
    """Cap on HOT + WARM subscriptions."""
    hot_count: int = 40
    """Instruments always subscribed."""
    rotation_period_s: float = 180.0
    """WARM rotation period."""
    churn_limit_per_minute: int = 20
    """Subscribe + unsubscribe requests per minute at most."""


class Targets(msgspec.Struct, frozen=True):
    """The keys a venue should be subscribed to now, HOT first."""

    hot: list[str]
    warm: list[str]

    @property
    def keys(self) -> set[str]:
        """Every target key, HOT and WARM."""
        return {*self.hot, *self.warm}


class Scheduler:
    """HOT + rotating WARM target sets for one venue."""

    def __init__(
        self,
        venue: str,
        hot_count: int,
        max_subs: int,
        rotation_period_s: float,
        rotation_step: int | None = None,
    ) -> None:
        if max_subs < 1 or hot_count < 0 or rotation_period_s <= 0:
            raise ValueError("need max_subs >= 1, hot_count >= 0, rotation_period_s > 0")
        if rotation_step is not None and rotation_step < 1:
            raise ValueError("rotation_step must be at least 1")
        self.venue = venue
        self.rotation_step = rotation_step
        self.max_subs = max_subs
        self.hot_count = min(hot_count, max_subs)
        self.rotation_period_s = rotation_period_s
        self._instruments: dict[str, Instrument] = {}
        self._hot: list[str] = []
        self._ring: list[str] = []
        self._hot_source: HotSource = "activity"
        self._cursor: str | None = None
        self._next_rotation_s: float | None = None
        self.rotations = 0

    @classmethod
    def from_settings(cls, venue: str, settings: ScheduleSettings) -> Scheduler:
        """Build a venue's scheduler, its WARM step sized to the churn limit."""
        swaps = settings.churn_limit_per_minute * settings.rotation_period_s / 120
        swaps *= _STEP_SHARE
        return cls(
            venue,
            settings.hot_count,
            settings.max_subs,
            settings.rotation_period_s,
            rotation_step=max(1, int(swaps)),
        )

    @property
    def hot_source(self) -> HotSource:
        """Where the HOT set came from: ``"stats"`` (the miner's cache) or ``"activity"``."""
        return self._hot_source

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        """The current universe by instrument key (for poll keys and metadata)."""
        return self._instruments

    @property
    def warm_slots(self) -> int:
        """How many WARM subscriptions fit beside the HOT set."""
        return self.max_subs - len(self._hot)

    def update_universe(
        self, instruments: Iterable[Instrument], scores: Mapping[str, float] | None = None
    ) -> None:
        """Replace the universe (other venues' instruments are ignored) and re-pick HOT."""
        self._instruments = {i.instrument_key: i for i in instruments if i.venue == self.venue}
        scored = scores is not None and any(
            _score(key, scores) is not None for key in self._instruments
        )
        if scores is not None and scored:
            ranked = sorted(self._instruments.values(), key=lambda i: _stats_rank(i, scores))
        else:
            ranked = sorted(self._instruments.values(), key=_activity_rank)
        self._hot_source = "stats" if scored else "activity"
        self._hot = [i.instrument_key for i in ranked[: self.hot_count]]
        self._ring = sorted(set(self._instruments).difference(self._hot))

    def targets(self, now_mono_s: float) -> Targets:
        """Return the target sets at ``now_mono_s``, rotating WARM when a period has passed."""
        if self._next_rotation_s is None:
            self._next_rotation_s = now_mono_s + self.rotation_period_s
        elif now_mono_s >= self._next_rotation_s:
            self._advance()
            # Keep to the period grid, but never rotate twice for one late call: skipping a
            # window would leave its instruments unvisited for a whole extra lap.
            self._next_rotation_s += self.rotation_period_s
            if self._next_rotation_s <= now_mono_s:
                self._next_rotation_s = now_mono_s + self.rotation_period_s
        return Targets(hot=list(self._hot), warm=self._window())

    def _window(self) -> list[str]:
        ring, slots = self._ring, self.warm_slots
        if len(ring) <= slots:
            return list(ring)
        start = self._start()
        return [ring[(start + i) % len(ring)] for i in range(slots)]

    def _start(self) -> int:
        return (
            0 if self._cursor is None else bisect_left(self._ring, self._cursor) % len(self._ring)
        )

    def _advance(self) -> None:
        ring, slots = self._ring, self.warm_slots
        if slots <= 0 or len(ring) <= slots:
            return
        step = slots if self.rotation_step is None else min(self.rotation_step, slots)
        self._cursor = ring[(self._start() + step) % len(ring)]
        self.rotations += 1


def _activity_rank(inst: Instrument) -> tuple[float, float, str]:
    activity = inst.activity
    if activity is None or math.isnan(activity):
        activity = -math.inf
    expiration = math.inf if inst.expiration is None else float(inst.expiration)
    return (-activity, expiration, inst.instrument_key)


def _stats_rank(
    inst: Instrument, scores: Mapping[str, float]
) -> tuple[int, float, tuple[float, float, str]]:
    score = _score(inst.instrument_key, scores)
    if score is None:
        return (1, 0.0, _activity_rank(inst))
    return (0, -score, _activity_rank(inst))


def _score(key: str, scores: Mapping[str, float]) -> float | None:
    score = scores.get(key)
    return None if score is None or math.isnan(score) else score
