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
from collections.abc import Mapping, Sized
from typing import Any, ClassVar, Protocol, Self

from aiohttp import web

from pmtape.core.clock import mono_s


class _Sockets(Protocol):
    stats: Mapping[str, int]
    conns: Sized

    async def drop_all(self) -> None: ...

    def idle(self) -> bool: ...


class LoopbackFake(abc.ABC):
    """Lifecycle of a fake venue server: start, stop, pause, resume, quiesce."""

    venue: ClassVar[str]
    stats: Mapping[str, int]
    host: str
    port: int
    urls: dict[str, str]
    _runner: web.AppRunner | None
    _driver: asyncio.Task[None] | None
    _paused: bool

    @property
    @abc.abstractmethod
    def sockets(self) -> _Sockets:
        """Return the fake's WebSocket side."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Lay out the markets, bind the port and start streaming."""

    @abc.abstractmethod
    async def _drive(self) -> None:
        """Advance the synthetic market and stream it, until cancelled."""

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
