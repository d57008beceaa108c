"""The adapter seam: what a venue states and the few hooks it implements.

A venue is declared facts (name, URLs, limits, its config model) plus hooks:

* ``discover()`` — what is active now (markets + instruments), no side effects on disk;
* ``new_session()`` — a live stream that delivers raw frames to a ``FrameSink`` and takes
  subscribe/unsubscribe requests by ``poll_key``;
* ``new_normalizer()`` — a pure bytes -> canonical events translator (no clock, no I/O),
  which is what makes capture rebuild and replay deterministic.

Nothing outside ``pmtape.venues`` names a venue; it asks ``pmtape.venues.registry``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Protocol

import msgspec

from pmtape.core.book import Book
from pmtape.core.events import Event
from pmtape.core.instrument import Instrument, MarketInfo
from pmtape.net.session import HttpMeta, VenueSession
from pmtape.venues.settings import VenueConfig


class DiscoveryResult(msgspec.Struct, kw_only=True):
    """One discovery cycle: the markets, their instruments, and the raw payloads seen."""

    markets: list[MarketInfo]
    instruments: list[Instrument]
    raw: list[dict[str, Any]] = msgspec.field(default_factory=list)


class LocalFake(Protocol):
    """A venue's fake on loopback (its real protocols, synthetic markets) for demos."""

    async def __aenter__(self) -> Any:
        """Start serving."""

    async def __aexit__(self, *exc: object) -> None:
        """Stop serving."""

    def config_overrides(self) -> dict[str, str]:
        """Return the config keys (dotted) that point this venue's adapter at the fake."""

    async def disconnect_all(self) -> None:
        """Close every open socket once (a forced disconnect; clients reconnect)."""

    def outage(self, down: bool) -> None:
        """Start (True) or end (False) a venue outage: every REST request answered 503."""


class Bound(StrEnum):
    """A range a fake's knob must lie in, checked before the fake binds anything."""

    SHARE = "share"
    """A probability or ratio: within [0, 1]."""
    NON_NEGATIVE = "non_negative"
    """A duration or delay: 0 or more."""


@dataclass(frozen=True)
class Knob:
    """One option of ``pmtape fake-venue NAME``: ``--name`` with dashes for underscores."""

    name: str
    kind: type
    """``int``, ``float``, ``bool`` (a ``--x/--no-x`` switch), ``str`` or ``Path``."""
    default: Any
    """None: the option may be left out (its value is then None)."""
    help: str
    min: float | None = None
    """Smallest value the parser accepts (None: no limit there)."""
    bound: Bound | None = None


@dataclass(frozen=True)
class FakeCommand:
    """What ``pmtape fake-venue NAME`` offers, as data: its help, its knobs, its launcher.

    The CLI builds the command from it. Every command has the knobs ``host``, ``public``,
    ``port``, ``silent_after`` and ``duration``; shared ones are in ``venues.fake.options``.
    """

    help: str
    """The command's help: a summary line, a blank line, what it prints."""
    knobs: tuple[Knob, ...]
    launch: str
    """``module:function`` of the launcher, imported when the command runs: knob values in,
    a context manager yielding a ``venues.fake.options.FakeLaunch`` out."""


DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
"""What decoding (or converting) a venue's bytes can raise: msgspec raises
``UnicodeDecodeError``, not ``DecodeError``, on a string of invalid UTF-8, and
``RecursionError`` on arrays or objects nested deeper than the interpreter's recursion
limit (``b"[" * 100000``); ``ValidationError`` is a ``DecodeError``."""


class Normalizer(abc.ABC):
    """Pure translator from one raw frame to canonical events.

    A frame it cannot understand raises nothing: the bad part is counted in ``stats``
    (``bad``, ``unknown``) and skipped, and the raw frame stays in the capture.
    """

    def __init__(self) -> None:
        self.stats: dict[str, int] = {"frames": 0, "events": 0, "bad": 0, "unknown": 0}

    @abc.abstractmethod
    def normalize(self, payload: bytes, ts_recv_ms: int) -> list[Event]:
        """Turn one frame into events (possibly none)."""

    def learn(self, instruments: Iterable[Instrument]) -> None:  # noqa: B027 - optional hook
        """Take note of what discovery says of instruments whose books are now kept.

        Called when books start being kept (live and in ``rebuild``), before their frames.
        A venue whose messages leave out market settings they depend on (Polymarket's book
        hash covers the market's ``min_order_size`` and ``neg_risk``) reads them here from
        ``Instrument.raw``; this default needs nothing.
        """

    def ingest(self, payload: bytes, ts_recv_ms: int, books: dict[str, Book]) -> list[Event]:
        """Apply what a frame changes in ``books`` where it can; return the other events.

        A venue's hot path may set levels of the books it finds in ``books`` directly,
        without building events; the outcome must equal applying ``normalize``'s events in
        order. This default applies nothing itself and returns every event.
        """
        return self.normalize(payload, ts_recv_ms)


class VenueAdapter(abc.ABC):
    """One venue: its declared facts and hooks, built from its config section."""

    name: ClassVar[str]

    config: VenueConfig

    def __init__(self, config: VenueConfig) -> None:
        self.config = config

    @abc.abstractmethod
    async def discover(self, now_ms: int) -> DiscoveryResult:
        """Return what is active at ``now_ms``."""

    @abc.abstractmethod
    def new_session(self) -> VenueSession:
        """Return a fresh live session (not yet running)."""

    @abc.abstractmethod
    def new_normalizer(self) -> Normalizer:
        """Return a fresh normalizer (it keeps only counters)."""

    @classmethod
    def local_fake(cls) -> LocalFake | None:
        """Return a loopback fake of this venue for `pmtape demo` (None: it needs none)."""
        return None

    @classmethod
    def fake_command(cls) -> FakeCommand | None:
        """Return `pmtape fake-venue NAME` as data: knobs, help, launcher (None: no fake)."""
        return None

    # Venues with a REST book endpoint set this and implement fetch_books; the collector
    # then audits WS-kept books against REST.
    supports_rest_books: ClassVar[bool] = False

    async def fetch_books(self, poll_keys: Sequence[str]) -> list[tuple[bytes, int, HttpMeta]]:
        """Fetch full books over REST as raw (body, ts_recv_ns, meta); none by default."""
        return []
