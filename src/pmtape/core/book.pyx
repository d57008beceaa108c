# cython: language_level=3, boundscheck=False, wraparound=False
"""One instrument's order book in integer e6: each side two C arrays, best level first.

A side keeps its levels' prices and sizes in C arrays sorted best first (bids high to low,
asks low to high), so setting a level is a binary search and at most one ``memmove``, the
top-K is the first K entries, and a 45-level side is two 360-byte arrays instead of a dict
of Python ints spread over the heap (the receive path's cache misses; PERFORMANCE.md).
Python code reads a side as a mapping, price -> size (``book.bids[px]``, ``dict(book.asks)``).

Compiled by Cython only (``setup.py``; ``book.pxd`` declares the C fields, so a venue's
compiled normalizer applies levels with C calls). pmtape needs the extension (``make build``).
"""

from collections.abc import Mapping
from enum import StrEnum

from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.string cimport memmove


class BookStatus(StrEnum):
    OK = "ok"
    STALE = "stale"
    PARTIAL = "partial"
    EMPTY = "empty"


cdef enum:
    FIRST_CAP = 16


cdef class Side:
    """One side's levels, best first; a read-only mapping price -> size for Python code."""

    def __cinit__(self, bint descending):
        self.desc = descending
        self.n = 0
        self.cap = FIRST_CAP
        self.px = <long long*>PyMem_Malloc(FIRST_CAP * sizeof(long long))
        self.sz = <long long*>PyMem_Malloc(FIRST_CAP * sizeof(long long))
        if self.px is NULL or self.sz is NULL:
            raise MemoryError()

    def __dealloc__(self):
        PyMem_Free(self.px)
        PyMem_Free(self.sz)

    cdef Py_ssize_t find(self, long long p) noexcept nogil:
        """Return how many levels are strictly better than price ``p``."""
        cdef Py_ssize_t lo = 0, hi = self.n, mid
        if self.desc:
            while lo < hi:
                mid = (lo + hi) >> 1
                if self.px[mid] > p:
                    lo = mid + 1
                else:
                    hi = mid
        else:
            while lo < hi:
                mid = (lo + hi) >> 1
                if self.px[mid] < p:
                    lo = mid + 1
                else:
                    hi = mid
        return lo

    cdef int grow(self) except -1:
        cdef Py_ssize_t cap = self.cap * 2
        cdef long long* px = <long long*>PyMem_Realloc(self.px, cap * sizeof(long long))
        if px is NULL:
            raise MemoryError()
        self.px = px
        cdef long long* sz = <long long*>PyMem_Realloc(self.sz, cap * sizeof(long long))
        if sz is NULL:
            raise MemoryError()
        self.sz = sz
        self.cap = cap
        return 0

    cdef Py_ssize_t set(self, long long p, long long s) except -1:
        """Set the size at price ``p`` (0 removes the level); return the level's rank."""
        cdef Py_ssize_t i = self.find(p)
        cdef Py_ssize_t tail = self.n - i
        if i < self.n and self.px[i] == p:
            if s:
                self.sz[i] = s
            else:
                tail -= 1
                memmove(self.px + i, self.px + i + 1, tail * sizeof(long long))
                memmove(self.sz + i, self.sz + i + 1, tail * sizeof(long long))
                self.n -= 1
            return i
        if not s:
            return i
        if self.n == self.cap:
            self.grow()
        memmove(self.px + i + 1, self.px + i, tail * sizeof(long long))
        memmove(self.sz + i + 1, self.sz + i, tail * sizeof(long long))
        self.px[i] = p
        self.sz[i] = s
        self.n += 1
        return i

    cdef void clear(self) noexcept:
        self.n = 0

    cpdef list prices(self, Py_ssize_t k):
        """Return the best ``k`` prices, best first."""
        cdef Py_ssize_t i, m = min(k, self.n)
        return [self.px[i] for i in range(m)]

    cpdef list sizes(self, Py_ssize_t k):
        """Return the sizes of the best ``k`` levels, best first."""
        cdef Py_ssize_t i, m = min(k, self.n)
        return [self.sz[i] for i in range(m)]

    def levels(self, Py_ssize_t k=-1):
        """Return the best ``k`` (all when negative) levels as (px, sz), best first."""
        cdef Py_ssize_t i, m = self.n if k < 0 else min(k, self.n)
        return [(self.px[i], self.sz[i]) for i in range(m)]

    # -- the read-only mapping, price -> size ----------------------------------------------------

    def __len__(self):
        return self.n

    def __getitem__(self, object p):
        cdef Py_ssize_t i
        if type(p) is int:
            i = self.find(p)
            if i < self.n and self.px[i] == p:
                return self.sz[i]
        raise KeyError(p)

    def __contains__(self, object p):
        cdef Py_ssize_t i
        if type(p) is not int:
            return False
        i = self.find(p)
        return i < self.n and self.px[i] == p

    def __iter__(self):
        return iter(self.prices(self.n))

    def get(self, object p, object default=None):
        return self[p] if p in self else default

    def keys(self):
        return self.prices(self.n)

    def values(self):
        return self.sizes(self.n)

    def items(self):
        return self.levels()

    def __eq__(self, other):
        if isinstance(other, (Side, dict)):
            return dict(self.levels()) == dict(other.items())
        return NotImplemented

    def __repr__(self):
        return f"Side({dict(self.levels())!r})"


Mapping.register(Side)


cdef class Book:
    """Bids and asks of one instrument, its processing seq and freshness.

    ``seq`` counts every applied update, ``snapshots`` the full books among them.
    """

    def __init__(self, Py_ssize_t top_k=50):
        self.top_k = top_k
        self.bids = Side(True)
        self.asks = Side(False)
        self.seq = 0
        self.snapshots = 0
        self.last_recv_ms = None
        self.source_ts_ms = None
        self.stale_reason = None

    def apply_snapshot(self, bids, asks, ts_recv_ms, ts_event_ms=None):
        """Replace the whole book; a fresh venue snapshot also clears a stale mark.

        Levels of size 0 are skipped; a price given twice keeps its last size.
        """
        self.begin_snapshot()
        for px, sz in bids:
            if sz:
                self.bids.set(px, sz)
        for px, sz in asks:
            if sz:
                self.asks.set(px, sz)
        self.end_snapshot(ts_recv_ms, ts_event_ms)

    cdef void begin_snapshot(self) noexcept:
        """Empty both sides for a full book (compiled callers then set its levels)."""
        self.bids.clear()
        self.asks.clear()

    cdef void end_snapshot(self, object ts_recv_ms, object ts_event_ms) except *:
        """Finish a full book: it clears a stale mark and counts as one update."""
        self.stale_reason = None
        self.snapshots += 1
        self.touch(ts_recv_ms, ts_event_ms)

    def apply_changes(self, changes, ts_recv_ms, ts_event_ms=None):
        """Apply absolute level updates in order (size 0 removes the level)."""
        for side, px, sz in changes:
            self.apply_level(side, px, sz)
        self.touch(ts_recv_ms, ts_event_ms)

    cpdef void apply_level(self, long side, long long px, long long sz) except *:
        """Set one level's size (0 removes it); call ``touch`` once the update is complete."""
        if side == 0:
            self.bids.set(px, sz)
        else:
            self.asks.set(px, sz)

    cpdef void touch(self, object ts_recv_ms, object ts_event_ms):
        """Count one applied update (the book's seq) and when it was received and stamped."""
        self.seq += 1
        self.last_recv_ms = ts_recv_ms
        if ts_event_ms is not None:
            self.source_ts_ms = ts_event_ms

    def mark_stale(self, reason):
        """Mark the book untrustworthy until the next full snapshot."""
        self.stale_reason = reason

    def bid_prices(self):
        """Return the top-K bid prices, best (highest) first."""
        return self.bids.prices(self.top_k)

    def ask_prices(self):
        """Return the top-K ask prices, best (lowest) first."""
        return self.asks.prices(self.top_k)

    def best_bid(self):
        """Return (px, sz) of the best bid, or None."""
        return (self.bids.px[0], self.bids.sz[0]) if self.bids.n else None

    def best_ask(self):
        """Return (px, sz) of the best ask, or None."""
        return (self.asks.px[0], self.asks.sz[0]) if self.asks.n else None

    def status(self, long long now_ms, stale_after_ms):
        """Return the book's status and, when not ok, why."""
        if self.stale_reason is not None:
            return BookStatus.STALE, self.stale_reason
        if self.last_recv_ms is None:
            return BookStatus.STALE, "no data yet"
        if stale_after_ms is not None and now_ms - self.last_recv_ms > stale_after_ms:
            return BookStatus.STALE, f"no update for {(now_ms - self.last_recv_ms) // 1000}s"
        if not self.bids.n:
            if not self.asks.n:
                return BookStatus.EMPTY, None
            return BookStatus.PARTIAL, "no bids"
        if not self.asks.n:
            return BookStatus.PARTIAL, "no asks"
        return BookStatus.OK, None
