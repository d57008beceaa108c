"""The adapter seam: what a venue states and the few hooks it implements.

A venue is declared facts (name, URLs, limits, its config model) plus hooks:

* ``discover()`` — what is active now (markets + instruments), no side effects on disk;
* ``new_session()`` — a live stream that delivers raw frames to a ``FrameSink`` and takes
  subscribe/unsubscribe requests by ``poll_key``;
* ``new_normalizer()`` — a pure bytes -> canonical events translator (no clock, no I/O),
  which is what makes capture rebuild and replay deterministic.

Nothing outside ``pmtape.venues`` names a venue; it asks the registry.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import msgspec

from pmtape.core.book import Book
from pmtape.core.errors import ConfigError
from pmtape.core.events import Event
from pmtape.core.instrument import Instrument, MarketInfo


class DiscoveryResult(msgspec.Struct, kw_only=True):
    """One discovery cycle: the markets, their instruments, and the raw payloads seen."""

    markets: list[MarketInfo]
    instruments: list[Instrument]
    raw: list[dict[str, Any]] = msgspec.field(default_factory=list)


class HttpMeta(msgspec.Struct, kw_only=True):
    """How an HTTP body was obtained; kept beside the body in the capture."""

    method: str
    url: str
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    status: int
    latency_ms: float


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


class LocalFake(Protocol):
    """A venue's fake on loopback (its real protocols, synthetic markets) for demos."""

    async def __aenter__(self) -> Any:
        """Start serving."""

    async def __aexit__(self, *exc: object) -> None:
        """Stop serving."""

    def config_overrides(self) -> dict[str, str]:
        """Return the config keys (dotted) that point this venue's adapter at the fake."""


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

    def __init__(self, config: Any) -> None:
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
    def fake_command(cls) -> Callable[..., None] | None:
        """Return the `pmtape fake-venue NAME` command of this venue's fake (None: none)."""
        return None

    # Venues with a REST book endpoint set this and implement fetch_books; the collector
    # then audits WS-kept books against REST.
    supports_rest_books: ClassVar[bool] = False

    async def fetch_books(self, poll_keys: Sequence[str]) -> list[tuple[bytes, int, HttpMeta]]:
        """Fetch full books over REST as raw (body, ts_recv_ns, meta); none by default."""
        return []


_REGISTRY: dict[str, Callable[[Any], VenueAdapter]] = {}


def register(name: str) -> Callable[[type[VenueAdapter]], type[VenueAdapter]]:
    """Class decorator: make an adapter available under ``name``."""

    def deco(cls: type[VenueAdapter]) -> type[VenueAdapter]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def available() -> list[str]:
    """Return the names of all registered venues."""
    _load_builtin()
    return sorted(_REGISTRY)


def fake_commands() -> dict[str, Callable[..., None]]:
    """Return every venue's fake-server command, by venue name."""
    _load_builtin()
    out = {}
    for name, factory in sorted(_REGISTRY.items()):
        if isinstance(factory, type) and issubclass(factory, VenueAdapter):
            command = factory.fake_command()
            if command is not None:
                out[name] = command
    return out


def local_fakes(names: Sequence[str]) -> dict[str, LocalFake]:
    """Return the loopback fakes of those venues that have one."""
    _load_builtin()
    out = {}
    for name in names:
        factory = _REGISTRY.get(name)
        fake = (
            factory.local_fake()
            if isinstance(factory, type) and issubclass(factory, VenueAdapter)
            else None
        )
        if fake is not None:
            out[name] = fake
    return out


def create_adapter(name: str, config: Any) -> VenueAdapter:
    """Build the adapter of venue ``name`` from its config section."""
    _load_builtin()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown venue {name!r} (known: {', '.join(sorted(_REGISTRY))})"
        ) from None
    return factory(config)


def _load_builtin() -> None:
    # Importing the venue packages registers them; kept lazy so `pmtape --help` stays fast.
    from pmtape.venues import kalshi, limitless, polymarket, sim  # noqa: F401
