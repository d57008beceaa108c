"""Event-loop lag: how late a sleeping task wakes up, sampled continuously."""

from __future__ import annotations

import asyncio
import time


class LoopLagMonitor:
    """Samples how late the loop runs a timer; the receive path's health in one number."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self._samples: list[float] = []
        self.max_ms = 0.0

    async def run(self) -> None:
        """Sample until cancelled."""
        interval = self.interval_s
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(interval)
            lag_ms = max(0.0, (time.perf_counter() - t0 - interval) * 1000)
            self._samples.append(lag_ms)
            if lag_ms > self.max_ms:
                self.max_ms = lag_ms

    def drain(self) -> list[float]:
        """Return the samples taken since the last drain."""
        out, self._samples = self._samples, []
        return out
