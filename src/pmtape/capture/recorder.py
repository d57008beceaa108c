"""What the collector writes into a capture besides raw frames: its own decisions.

Raw frames and HTTP bodies are recorded exactly as received. The collector's decisions —
subscriptions, session lifecycle, and each snapshot tick with the books it took — are recorded
as local events in the same shard, in processing order, so ``pmtape rebuild`` can drive the
same state machine (collect/state.py) through the same steps. docs/CAPTURE_FORMAT.md lists the
local event payloads.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import msgspec

from pmtape.capture.bundle import ShardedCapture
from pmtape.capture.format import FrameKind
from pmtape.core.http import HttpMeta
from pmtape.core.instrument import Instrument

LOCAL = "local"
_SESSION_KINDS = {"connected": FrameKind.CONNECT, "disconnected": FrameKind.DISCONNECT}
_encode = msgspec.json.Encoder().encode
_WS_TEXT = FrameKind.WS_TEXT
_mono_ns = time.monotonic_ns


class Recorder:
    """Appends one venue's frames and decisions to its capture shard."""

    __slots__ = ("_append", "_cap", "_local", "_names", "_prefix", "shard", "venue")

    def __init__(self, capture: ShardedCapture, shard: int, venue: str) -> None:
        self._cap = capture
        self._append = capture.writers[shard].frame_appender()  # the receive path's one call
        self._names: dict[str, str] = {}
        self.shard = shard
        self.venue = venue
        self._prefix = f"{venue}:"
        self._local = f"{venue}:{LOCAL}"

    def frame(self, stream: str, payload: bytes, rx_wall_ns: int) -> None:
        """Record one WebSocket frame as received."""
        name = self._names.get(stream)
        if name is None:
            name = self._names[stream] = self._prefix + stream
        self._append(_WS_TEXT, name, payload, rx_wall_ns, _mono_ns())

    def http(self, stream: str, payload: bytes, rx_wall_ns: int, meta: HttpMeta) -> None:
        """Record one HTTP body with how it was fetched."""
        self._cap.append(
            self.shard,
            FrameKind.HTTP_RESPONSE,
            self._prefix + stream,
            payload,
            rx_wall_ns,
            time.monotonic_ns(),
            meta,
        )

    def local(self, kind: FrameKind, body: dict[str, Any], ts_ns: int | None = None) -> None:
        """Record one of the collector's own decisions (stamped ``ts_ns``, else now)."""
        wall = time.time_ns() if ts_ns is None else ts_ns
        self._cap.append(self.shard, kind, self._local, _encode(body), wall, time.monotonic_ns())

    def subscribed(self, instruments: Iterable[Instrument]) -> None:
        """Record that books of these instruments are now kept.

        After the three ids a row holds the instrument's ``raw`` (a dict) when discovery kept
        one: the market settings the venue's frames leave out, which ``rebuild`` must know as
        the collector did; then its tick e6 (an int) when known, which the off-tick audit uses.
        """
        rows: list[list[Any]] = [
            [
                i.market_id,
                i.instrument_id,
                i.poll_key,
                *([i.raw] if i.raw else []),
                *([i.tick_e6] if i.tick_e6 else []),
            ]
            for i in instruments
        ]
        self.local(FrameKind.SUBSCRIBE, {"instruments": rows})

    def unsubscribed(self, keys: Iterable[str]) -> None:
        """Record that books of these instrument keys are dropped."""
        self.local(FrameKind.UNSUBSCRIBE, {"keys": list(keys)})

    def session_event(
        self, stream: str, kind: str, detail: dict[str, Any], ts_ns: int | None = None
    ) -> None:
        """Record a session lifecycle event (its stamp is the time the ledger uses)."""
        body = {"stream": stream, "event": kind, "detail": detail}
        self.local(_SESSION_KINDS.get(kind, FrameKind.EVENT), body, ts_ns)

    def universe(
        self, added: list[tuple[str, str]], removed: list[tuple[str, str]], ts_ms: int
    ) -> None:
        """Record instruments entering and leaving the active set (for the coverage ledger)."""
        body = {"event": "universe", "ts_ms": ts_ms, "added": added, "removed": removed}
        self.local(FrameKind.EVENT, body)

    def coverage_end(self, ts_ms: int) -> None:
        """Record the instant the run's coverage ledger was closed."""
        self.local(FrameKind.EVENT, {"event": "coverage_end", "ts_ms": ts_ms})

    def snapshot_tick(self, ts_ms: int, keys: list[str]) -> None:
        """Record that these books were snapshotted at ``ts_ms``."""
        self.local(FrameKind.EVENT, {"event": "snapshot", "ts_ms": ts_ms, "keys": keys})
