"""When each subscribed book is due for a snapshot: one heap, no timer per market.

Every instrument has one live heap entry ``(due_ms, generation, key)``. Changing an
instrument's interval or removing it bumps its generation, so stale entries are skipped
when they surface instead of being searched for and deleted.
"""

from __future__ import annotations

import heapq


class Snapshotter:
    """Next-due times of all subscribed instruments in a single heap."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, str]] = []
        self._gen: dict[str, int] = {}
        self._interval: dict[str, int] = {}
        self._next_gen = 0

    def __len__(self) -> int:
        return len(self._gen)

    def __contains__(self, key: object) -> bool:
        return key in self._gen

    def schedule(self, key: str, interval_ms: int, first_due_ms: int) -> None:
        """Snapshot ``key`` every ``interval_ms`` from ``first_due_ms``, replacing any plan."""
        self._next_gen += 1
        self._gen[key] = self._next_gen
        self._interval[key] = interval_ms
        heapq.heappush(self._heap, (first_due_ms, self._next_gen, key))
        self._compact_if_bloated()

    def interval_of(self, key: str) -> int | None:
        """Return the current interval of ``key`` (None when not scheduled)."""
        return self._interval.get(key)

    def remove(self, key: str) -> None:
        """Stop snapshotting ``key``."""
        self._gen.pop(key, None)
        self._interval.pop(key, None)

    def pop_due(self, now_ms: int) -> list[str]:
        """Return the keys due at ``now_ms`` and plan their next snapshot.

        A key that fell more than one interval behind (a stalled loop) is planned from now
        rather than fired repeatedly to catch up, so a stall never becomes a burst.
        """
        heap = self._heap
        gens = self._gen
        out: list[str] = []
        while heap and heap[0][0] <= now_ms:
            due, gen, key = heapq.heappop(heap)
            if gens.get(key) != gen:
                continue
            out.append(key)
            interval = self._interval[key]
            nxt = due + interval
            if nxt <= now_ms:
                nxt = now_ms + interval
            heapq.heappush(heap, (nxt, gen, key))
        return out

    def next_due_ms(self) -> int | None:
        """Return the earliest live due time, or None when nothing is scheduled."""
        heap = self._heap
        while heap and self._gen.get(heap[0][2]) != heap[0][1]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _compact_if_bloated(self) -> None:
        if len(self._heap) > 4 * len(self._gen) + 64:
            self._heap = [e for e in self._heap if self._gen.get(e[2]) == e[1]]
            heapq.heapify(self._heap)
