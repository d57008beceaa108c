# Cython declarations of book.pyx: the C fields and methods a venue's compiled normalizer
# (or scanner) uses to apply levels without Python calls.
cimport cython


@cython.final
cdef class Side:
    cdef long long* px
    cdef long long* sz
    cdef Py_ssize_t n
    cdef Py_ssize_t cap
    cdef bint desc

    cdef Py_ssize_t find(self, long long p) noexcept nogil
    cdef int grow(self) except -1
    cdef Py_ssize_t set(self, long long p, long long s) except -1
    cdef void clear(self) noexcept
    cpdef list prices(self, Py_ssize_t k)
    cpdef list sizes(self, Py_ssize_t k)


@cython.final
cdef class Book:
    cdef public Py_ssize_t top_k
    cdef readonly Side bids
    cdef readonly Side asks
    cdef public long long seq
    cdef public long long snapshots
    cdef public object last_recv_ms
    cdef public object source_ts_ms
    cdef public object stale_reason

    cpdef void apply_level(self, long side, long long px, long long sz) except *
    cdef void begin_snapshot(self) noexcept
    cdef void end_snapshot(self, object ts_recv_ms, object ts_event_ms) except *
    cpdef void touch(self, object ts_recv_ms, object ts_event_ms)
