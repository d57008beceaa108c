# Cython declarations for normalize.py's hot path (see setup.py): the price_change loop gets
# typed locals and calls the compiled Book's methods and number parsers directly.
cimport cython

from pmtape.core.book cimport Book
from pmtape.core.fixed cimport parse_e6_plain


@cython.locals(
    items=list,
    legacy_key=str,
    key=str,
    k=str,
    book=Book,
    changes=list,
    touched=Py_ssize_t,
    px="long long",
    sz="long long",
    side=long,
)
cdef Py_ssize_t _price_change(
    object msg,
    object ts_recv_ms,
    dict books,
    dict stats,
    list out,
) except -1


@cython.locals(book=dict, px="long long", sz="long long")
cdef object _levels(list levels)


@cython.locals(px="long long")
cdef long long _price(str text) except? -2


@cython.locals(sz="long long")
cdef long long _size(str text) except? -2


cdef long _side(str text)


cdef object _stamp(object value)
