"""What every local fake venue shares: serving on loopback, its driver task, pause and drain.

A fake subclasses ``LoopbackFake``, names its venue, builds its aiohttp app in ``start()`` and
hands it to ``_serve``; ``sockets`` is its WebSocket side (anything with ``drop_all()`` and
``idle()``), and ``_drive`` the task that advances its synthetic market.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import Mapping, Sized
from typing import Any, ClassVar, Protocol, Self

from aiohttp import web

from pmtape.core.clock import mono_s, now_ms
from pmtape.venues.sim.generator import GenMessage, SimGenerator, SimUniverse


class _Sockets(Protocol):
    @property
    def stats(self) -> Mapping[str, int]: ...

    @property
    def conns(self) -> Sized: ...

    async def drop_all(self) -> None: ...

    def idle(self) -> bool: ...


class LoopbackFake(abc.ABC):
    """Lifecycle of a fake venue server: start, stop, pause, resume, quiesce."""

    venue: ClassVar[str]
    stats: Counter[str]
    host: str
    port: int
    urls: dict[str, str]
    _runner: web.AppRunner | None
    _driver: asyncio.Task[None] | None
    _paused: bool

    sockets: _Sockets  # the fake's WebSocket side, set by the subclass
    faults: Any  # the subclass's fault knobs; ``drop_every_s`` and ``silent`` at least
    generator: SimGenerator
    rate: float
    tick_s: float

    def _init_fake(
        self,
        *,
        markets: int,
        seed: int,
        rate: float,
        trade_ratio: float,
        rolling_share: float,
        rolling_period_s: int,
        host: str,
        port: int,
        tick_s: float,
    ) -> None:
        """Set up what every fake has: the synthetic market and the server's state."""
        universe = SimUniverse(seed, markets, rolling_share, rolling_period_s)
        self.generator = SimGenerator(universe, seed, trade_ratio=trade_ratio)
        self.rate = rate
        self.host = host
        self.port = port
        self.tick_s = tick_s
        self.stats = Counter()
        self.urls = {}
        self._paused = False
        self._runner = None
        self._driver = None

    @abc.abstractmethod
    async def start(self) -> None:
        """Lay out the markets, bind the port and start streaming."""

    @abc.abstractmethod
    def _refresh(self, ts_ms: int) -> None:
        """Bring the venue's active markets up to ``ts_ms``."""

    @abc.abstractmethod
    def _emit(self, msgs: list[GenMessage], ts_ms: int) -> None:
        """Encode one tick's generated messages in the venue's wire and send them."""

    async def _drive(self) -> None:
        """Advance the synthetic market at ``rate`` messages/s and stream it, until cancelled.

        Every ``tick_s`` it generates what the rate owes since the last tick; after a stall
        it catches up at most ``catch_up`` ticks' worth per tick, so that one tick's work
        stays small and the stream steady. ``stats`` keeps how long the steps take.
        """
        catch_up = 4
        owed = 0.0
        last = mono_s()
        next_drop = last + self.faults.drop_every_s
        stats = self.stats
        took = 0.0
        while True:
            await asyncio.sleep(max(0.0, self.tick_s - took))
            now = mono_s()
            if self.faults.drop_every_s > 0 and now >= next_drop:
                next_drop = now + self.faults.drop_every_s
                await self.sockets.drop_all()
            owed = min(owed + (now - last) * self.rate, self.rate + 1.0)
            last = now
            ts = now_ms()
            self._refresh(ts)
            if self._paused or owed < 1:
                took = mono_s() - now
                continue
            n = int(min(owed, max(self.rate * self.tick_s * catch_up, 1.0)))
            msgs = self.generator.step(ts, n)
            owed -= len(msgs)
            stats["generated"] += len(msgs)
            self._emit(msgs, ts)
            took = mono_s() - now
            took_us = int(took * 1e6)
            stats["driver_steps"] += 1
            if took_us > 20_000:
                stats["driver_steps_over_20ms"] += 1
            if took_us > stats["driver_step_max_us"]:
                stats["driver_step_max_us"] = took_us

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, app: web.Application) -> str:
        """Serve ``app`` on host:port (0: any free port); return the base HTTP URL."""
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        await web.SockSite(self._runner, sock).start()
        self.port = sock.getsockname()[1]
        return f"http://{self.host}:{self.port}"

    def _start_driver(self) -> None:
        self._driver = asyncio.create_task(self._drive(), name=f"fake-{self.venue}-driver")

    async def stop(self) -> None:
        """Stop streaming, close every socket and the server."""
        driver, self._driver = self._driver, None
        if driver is not None:
            driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await driver
        runner, self._runner = self._runner, None
        if runner is not None:
            await self.sockets.drop_all()
            await runner.cleanup()

    def config_overrides(self, prefix: str | None = None) -> dict[str, str]:
        """Return the config keys pointing this venue's adapter at this fake."""
        prefix = prefix or f"venues.{self.venue}"
        return {f"{prefix}.{k}": v for k, v in self.urls.items() if k != "debug_url"}

    async def disconnect_all(self) -> None:
        """Close every open socket now, once (the clients reconnect): a forced disconnect."""
        await self.sockets.drop_all()

    def outage(self, down: bool) -> None:
        """Answer every REST request (and, where the venue does, every upgrade) with 503.

        ``outage(False)`` puts back the error knobs as they were before the outage.
        """
        faults = self.faults
        saved: tuple[float, tuple[int, ...]] | None = getattr(self, "_before_outage", None)
        if down:
            if saved is None:
                self._before_outage = (faults.http_error_prob, faults.http_error_statuses)
            faults.http_error_prob, faults.http_error_statuses = 1.0, (503,)
        elif saved is not None:
            faults.http_error_prob, faults.http_error_statuses = saved
            del self._before_outage

    def pause(self) -> None:
        """Stop generating messages (sockets stay open, keepalives still answered)."""
        self._paused = True

    def resume(self) -> None:
        """Generate messages again."""
        self._paused = False

    async def quiesce(self, timeout_s: float = 10.0) -> None:
        """Pause and wait until every socket has sent everything queued for it."""
        self.pause()
        deadline = mono_s() + timeout_s
        while not self.sockets.idle():
            if mono_s() > deadline:
                raise TimeoutError("the fake's sockets did not drain")
            await asyncio.sleep(0.01)

    def snapshot_stats(self) -> dict[str, Any]:
        """Return every counter of the fake: HTTP, sockets (``ws_*``), frames, faults."""
        out: dict[str, Any] = dict(self.stats)
        out.update({f"ws_{k}": v for k, v in self.sockets.stats.items()})
        out["ws_open"] = len(self.sockets.conns)
        return out
