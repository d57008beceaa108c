"""Build pmtape's compiled receive path.

Cython compiles these pure-Python modules into C extensions, typed by the ``.pxd`` file beside
each one (the ``.py`` stays the single source; without the extension it runs as plain Python).
Everything else in pmtape is plain Python. ``pip install`` (and ``make setup``) builds them.
"""

from Cython.Build import cythonize
from setuptools import setup

COMPILED = [
    "src/pmtape/core/fixed.py",
    "src/pmtape/core/book.pyx",
    "src/pmtape/capture/handoff.pyx",
    "src/pmtape/venues/polymarket/normalize.py",
    "src/pmtape/venues/polymarket/scan.pyx",
]

setup(
    ext_modules=cythonize(
        COMPILED,
        include_path=["src"],
        compiler_directives={
            "language_level": 3,
            "annotation_typing": False,  # the .pxd files say what is C; annotations are mypy's
            "embedsignature": True,
        },
    )
)
