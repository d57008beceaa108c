"""The receive path's side of a capture writer: frames queued by reference, bounded, counted.

``push`` is what every received frame costs the receive loop when capture is on: no copy,
no packing, no lock. It is compiled by Cython (``handoff.pxd``) into an extension type whose
counters are C fields. Each counter has one writer: ``queued*``/``refused*`` the appending
thread, ``taken*`` the thread that packs (``CaptureWriter._pack``), so neither needs a lock;
the queue itself is a ``deque``, whose appends and pops are atomic.
"""

from __future__ import annotations

from collections import deque

from pmtape.core.errors import UsageError

Pending = tuple[int, bytes, bytes, bytes, int, int]
"""(kind, stream id, http meta, payload, rx_wall_ns, rx_mono_ns) of a frame not yet packed."""


class Handoff:
    """Frames appended but not yet packed into a block, at most ``queue_max`` payload bytes."""

    def __init__(self, queue_max: int, recent: int) -> None:
        self.q: deque[Pending] = deque()
        self.recent: deque[bytes] = deque(maxlen=recent)
        self.streams: dict[str, bytes] = {}
        self.queue_max = queue_max
        self.queued = 0
        self.queued_bytes = 0
        self.refused = 0
        self.refused_bytes = 0
        self.taken = 0
        self.taken_bytes = 0
        self.closed = False

    def push(
        self, kind: int, stream: str, payload: bytes, rx_wall_ns: int, rx_mono_ns: int
    ) -> None:
        """Queue one frame without HTTP metadata (a WebSocket frame, a local event)."""
        self.push_meta(kind, stream, b"", payload, rx_wall_ns, rx_mono_ns)

    def push_meta(
        self,
        kind: int,
        stream: str,
        meta: bytes,
        payload: bytes,
        rx_wall_ns: int,
        rx_mono_ns: int,
    ) -> None:
        """Queue one frame; past ``queue_max`` bytes behind, refuse it (counted, never waits)."""
        if self.closed:
            raise UsageError("append to a closed CaptureWriter")
        sid = self.streams.get(stream)
        if sid is None:
            sid = stream.encode()
            self.streams[stream] = sid
        plen = len(payload)
        backlog = self.queued_bytes - self.taken_bytes
        if backlog > 0 and backlog + plen > self.queue_max:
            self.refused += 1
            self.refused_bytes += plen
            return
        self.q.append((kind, sid, meta, payload, rx_wall_ns, rx_mono_ns))
        self.queued += 1
        self.queued_bytes += plen
        self.recent.append(payload)

    def backlog(self) -> int:
        """Return the payload bytes queued and not yet taken."""
        return self.queued_bytes - self.taken_bytes

    def took(self, payload_bytes: int) -> None:
        """Count one frame taken off the queue by the packing thread."""
        self.taken += 1
        self.taken_bytes += payload_bytes
