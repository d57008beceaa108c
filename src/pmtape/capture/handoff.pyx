# cython: language_level=3, boundscheck=False, wraparound=False
"""The receive path's side of a capture writer: each frame packed into the open block at once.

``push`` is what every received frame costs the receive loop when capture is on: its record
(head, stream id, HTTP metadata, payload, CRC32C; docs/CAPTURE_FORMAT.md section 3) is copied
into the block being filled, in C, with no Python object made or shared with another thread.
A block is sealed when it reaches ``block_bytes``; the writer thread takes sealed blocks one
at a time (``take``), also the open block once it is old enough or a flush asks for it, and
compresses and writes them with the GIL released. Both sides are methods of this extension
type and never release the GIL, so each runs whole: no lock is needed. Past ``queue_max``
payload bytes appended and not yet taken, ``push`` refuses the frame and counts it; it
never waits.

Compiled by Cython only (``setup.py``): capture needs the extension (``make build``).
"""

import sys
from collections import deque

from cpython.buffer cimport PyBuffer_FillInfo
from cpython.long cimport PyLong_AsLongLong
from libc.stdint cimport int64_t, uint16_t, uint32_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from pmtape.core.errors import UsageError

cdef extern from "crc32c.h":
    void pmt_crc_setup(int allow_hw)
    uint32_t pmt_crc32c(uint32_t crc, const unsigned char* p, size_t n) nogil

if sys.byteorder != "little":  # records are little-endian and copied as the CPU holds them
    raise ImportError("pmtape's capture packer needs a little-endian CPU")

pmt_crc_setup(1)

cdef enum:
    HEAD = 28  # RECORD_HEAD in format.py: <BBHIIqq


cdef class Buf:
    """A block's records in memory of its own; read-only to Python as a buffer of ``used`` bytes.

    Written blocks' buffers come back to the packer (``Handoff.recycle``), so while the
    writer keeps up, packing never touches fresh memory (a page fault every 4 KiB). Only the
    packer writes it, and only while no view of it exists.
    """

    cdef char* data
    cdef Py_ssize_t cap
    cdef readonly Py_ssize_t used

    def __cinit__(self, Py_ssize_t size):
        self.data = <char*>malloc(size)
        if self.data is NULL:
            raise MemoryError()
        self.cap = size
        self.used = 0

    def __dealloc__(self):
        free(self.data)

    cdef int reserve(self, Py_ssize_t size) except -1:
        cdef char* mem
        if size <= self.cap:
            return 0
        mem = <char*>realloc(self.data, size * 2)
        if mem is NULL:
            raise MemoryError()
        self.data = mem
        self.cap = size * 2
        return 0

    def __getbuffer__(self, Py_buffer* view, int flags):
        PyBuffer_FillInfo(view, self, self.data, self.used, 1, flags)

    def __len__(self):
        return self.used


def crc32c(bytes data, unsigned int crc=0, bint hardware=True):
    """Return the CRC32C of ``data`` extending ``crc`` (the packer's own, for the tests).

    ``hardware=False`` uses the table implementation even where the CPU has the instruction.
    """
    cdef uint32_t out
    if not hardware:
        pmt_crc_setup(0)
    out = pmt_crc32c(crc, <const unsigned char*>(<char*>data), len(data))
    if not hardware:
        pmt_crc_setup(1)
    return out


cdef double _now() noexcept:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef class Handoff:
    """Frames packed into blocks not yet taken by the writer, at most ``queue_max`` payload bytes."""

    cdef readonly object recent
    cdef dict streams
    cdef readonly long long block_bytes
    cdef readonly long long queue_max
    cdef readonly long long queued
    cdef readonly long long queued_bytes
    cdef readonly long long refused
    cdef readonly long long refused_bytes  # of frames refused and of unencodable ones
    cdef readonly long long unencodable
    cdef readonly object last_unencodable
    cdef readonly long long taken
    cdef readonly long long taken_bytes
    cdef public bint closed
    # The open block: its records and what it holds.
    cdef Buf buf
    cdef long long n
    cdef long long payload
    cdef int64_t wall_min, wall_max, mono_min, mono_max
    cdef double t0
    cdef object sealed  # deque of (buf, frames, payload bytes, wall_min/max, mono_min/max)
    cdef list spare  # written blocks' buffers, handed back: reused, their pages already mapped
    cdef public object on_seal  # called (no arguments) after a block is sealed by a push

    def __init__(self, long long block_bytes, long long queue_max, Py_ssize_t recent):
        self.recent = deque(maxlen=recent)
        self.streams = {}
        self.block_bytes = block_bytes
        self.queue_max = queue_max
        self.queued = self.queued_bytes = self.refused = self.refused_bytes = 0
        self.unencodable = 0
        self.last_unencodable = None
        self.taken = self.taken_bytes = 0
        self.closed = False
        self.sealed = deque()
        self.spare = []
        self.on_seal = None
        self._open()

    cdef void _open(self):
        self.buf = self.spare.pop() if self.spare else Buf(self.block_bytes + 4096)
        self.buf.used = 0
        self.n = self.payload = 0

    cpdef void push(self, object kind, str stream, bytes payload, object rx_wall_ns, object rx_mono_ns) except *:
        """Pack one frame without HTTP metadata (a WebSocket frame, a local event)."""
        self.push_meta(kind, stream, b"", payload, rx_wall_ns, rx_mono_ns)

    cpdef void push_meta(
        self,
        object kind,
        str stream,
        bytes meta,
        bytes payload,
        object rx_wall_ns,
        object rx_mono_ns,
    ) except *:
        """Pack one frame; past ``queue_max`` bytes not taken, refuse it (counted, never waits)."""
        cdef bytes sid
        cdef Py_ssize_t plen, slen, mlen, size
        cdef Buf buf = self.buf
        cdef long long backlog
        cdef int64_t wall, mono
        cdef unsigned char k
        cdef uint16_t s16
        cdef uint32_t u32
        cdef char* d
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
        slen = len(sid)
        mlen = len(meta)
        try:
            k = kind
            wall = PyLong_AsLongLong(rx_wall_ns)
            mono = PyLong_AsLongLong(rx_mono_ns)
            if slen > 0xFFFF or mlen > 0xFFFFFFFF or plen > 0xFFFFFFFF:
                raise OverflowError("a stream name or body too long for a record")
        except (OverflowError, TypeError) as exc:  # this frame only: counted, never raised
            self.unencodable += 1
            self.refused_bytes += plen
            self.last_unencodable = f"{type(exc).__name__}: {exc}"
            return
        size = HEAD + slen + mlen + plen + 4
        buf.reserve(buf.used + size)
        if buf.used == 0:
            self.t0 = _now()
            self.wall_min = self.wall_max = wall
            self.mono_min = self.mono_max = mono
        d = buf.data + buf.used
        d[0] = <char>k
        d[1] = 0
        s16 = <uint16_t>slen
        memcpy(d + 2, &s16, 2)
        u32 = <uint32_t>mlen
        memcpy(d + 4, &u32, 4)
        u32 = <uint32_t>plen
        memcpy(d + 8, &u32, 4)
        memcpy(d + 12, &wall, 8)
        memcpy(d + 20, &mono, 8)
        memcpy(d + HEAD, <char*>sid, slen)
        if mlen:
            memcpy(d + HEAD + slen, <char*>meta, mlen)
        memcpy(d + HEAD + slen + mlen, <char*>payload, plen)
        u32 = pmt_crc32c(0, <const unsigned char*>d, size - 4)
        memcpy(d + size - 4, &u32, 4)
        buf.used += size
        self.n += 1
        self.payload += plen
        if wall < self.wall_min:
            self.wall_min = wall
        elif wall > self.wall_max:
            self.wall_max = wall
        if mono > self.mono_max:
            self.mono_max = mono
        elif mono < self.mono_min:
            self.mono_min = mono
        self.queued += 1
        self.queued_bytes += plen
        self.recent.append(payload)
        if buf.used >= self.block_bytes:
            self._seal()
            if self.on_seal is not None:
                self.on_seal()  # the writer takes the block now, not at its next tick

    cdef void _seal(self) except *:
        self.sealed.append(
            (
                self.buf,
                self.n,
                self.payload,
                self.wall_min,
                self.wall_max,
                self.mono_min,
                self.mono_max,
            )
        )
        self._open()

    def take(self, bint force, double max_age_s):
        """Return the oldest sealed block, or None; seal the open one first if it is due.

        The open block is due when ``force`` (a flush) or when its first frame was packed
        ``max_age_s`` ago. A block is a tuple (its records as a ``Buf``, frames, payload
        bytes, wall_min, wall_max, mono_min, mono_max); once returned it counts as taken.
        Hand the ``Buf`` back with ``recycle`` once written (and no view of it is left).
        """
        if not self.sealed and self.buf.used and (force or _now() - self.t0 >= max_age_s):
            self._seal()
        if not self.sealed:
            return None
        block = self.sealed.popleft()
        self.taken += block[1]
        self.taken_bytes += block[2]
        return block

    def sealed_count(self):
        """Return how many sealed blocks wait to be taken."""
        return len(self.sealed)

    def recycle(self, Buf buf):
        """Take back a written block's ``Buf`` for a later block (at most four are kept)."""
        if len(self.spare) < 4:
            self.spare.append(buf)

    cpdef long long backlog(self):
        """Return the payload bytes appended and not yet taken by the writer."""
        return self.queued_bytes - self.taken_bytes
