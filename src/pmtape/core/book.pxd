# Cython declarations that compile book.py's Book into an extension type (see setup.py).
# Python code sees the same attributes; compiled callers (a venue's normalizer) get C calls.
cimport cython


@cython.final
cdef class Book:
    cdef public Py_ssize_t top_k
    cdef public dict bids
    cdef public dict asks
    cdef public long long seq
    cdef public object last_recv_ms
    cdef public object source_ts_ms
    cdef public object stale_reason
    cdef list _bid_top
    cdef list _ask_top
    cdef long long _bid_floor
    cdef long long _ask_ceil

    cpdef void apply_level(self, long side, long long px, long long sz)
    cpdef void touch(self, object ts_recv_ms, object ts_event_ms)
