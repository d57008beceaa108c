# Cython declarations for handoff.py (see setup.py): Handoff becomes an extension type whose
# counters are C fields, so the receive path's push costs a few hundred instructions.
cimport cython


@cython.final
cdef class Handoff:
    cdef public object q
    cdef public object recent
    cdef public dict streams
    cdef public long long queue_max
    cdef public long long queued
    cdef public long long queued_bytes
    cdef public long long refused
    cdef public long long refused_bytes
    cdef public long long taken
    cdef public long long taken_bytes
    cdef public bint closed

    cpdef void push(
        self, object kind, str stream, bytes payload, object rx_wall_ns, object rx_mono_ns
    ) except *

    @cython.locals(sid=bytes, plen="long long", backlog="long long")
    cpdef void push_meta(
        self,
        object kind,
        str stream,
        bytes meta,
        bytes payload,
        object rx_wall_ns,
        object rx_mono_ns,
    ) except *

    cpdef long long backlog(self)

    cpdef void took(self, long long payload_bytes)
