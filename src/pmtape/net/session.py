"""The session seam: what a live venue session is, and where it delivers what it receives.

Venue-agnostic: sessions (WebSocket engines, REST pollers) and the sinks they feed (the
collector) meet here; neither knows the other's concrete class, and nothing here names a venue.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from pmtape.core.http import HttpMeta

__all__ = ["BookWatch", "FrameSink", "HttpMeta", "VenueSession"]


class FrameSink(Protocol):
    """Where a session delivers what it receives, on the receive loop, without awaiting."""

    def on_frame(self, stream: str, payload: bytes, ts_recv_ns: int) -> None:
        """Take one raw WebSocket frame exactly as received."""

    def on_http(self, stream: str, payload: bytes, ts_recv_ns: int, meta: HttpMeta) -> None:
        """Take one HTTP response body exactly as received, with how it was fetched."""

    def on_session_event(self, stream: str, kind: str, detail: dict[str, Any]) -> None:
        """Take a lifecycle event: connected, disconnected, subscribed, unsubscribed, error."""


@runtime_checkable
class BookWatch(Protocol):
    """How far a sink's books have come, for a session's watchdogs (no frame decoded twice).

    The collector's sink has it; a session handed a sink without it runs no per-asset
    watchdog (the connection-level silence watchdog still runs).
    """

    def book_progress(self, key: str) -> tuple[int, int] | None:
        """Return (full books applied, updates applied) of a poll key's book, or None."""

    def market_of(self, key: str) -> str | None:
        """Return the market a poll key belongs to, or None if it is not known."""


class VenueSession(abc.ABC):
    """A venue's live stream: one or more connections, reconnecting by themselves."""

    @abc.abstractmethod
    async def run(self, sink: FrameSink) -> None:
        """Receive until cancelled, delivering frames and lifecycle events to ``sink``."""

    @abc.abstractmethod
    async def subscribe(self, keys: Sequence[str]) -> None:
        """Start receiving the books of these poll keys."""

    @abc.abstractmethod
    async def unsubscribe(self, keys: Sequence[str]) -> None:
        """Stop receiving the books of these poll keys."""

    @property
    @abc.abstractmethod
    def connected(self) -> bool:
        """Whether the session currently has a live connection."""

    async def resync(self, keys: Sequence[str]) -> None:  # noqa: B027 - optional hook
        """Ask for fresh full books of these keys (e.g. a silent asset); default: nothing."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most sessions close on cancel
        """Release connections; called once after ``run`` ends."""
