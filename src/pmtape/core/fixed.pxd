# Cython declarations for fixed.py (see setup.py): the plain-decimal parser becomes a C loop.
cimport cython


@cython.locals(
    whole="long long",
    frac="long long",
    n_whole=Py_ssize_t,
    n_frac=Py_ssize_t,
    dot=bint,
    up=bint,
    ch=Py_UCS4,
    digit=int,
)
cpdef long long parse_e6_plain(str text) except? -2
