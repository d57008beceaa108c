"""Which receive-path modules run compiled, and whether a compiled one is older than its source.

``setup.py`` compiles ``COMPILED_MODULES`` with Cython when pmtape is installed. Python
imports the extension in preference to the ``.py`` beside it, so after editing one of these
sources the extension must be rebuilt (``make build``) or the edit has no effect: ``status``
reports that as ``stale``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

COMPILED_MODULES = (
    "pmtape.core.fixed",
    "pmtape.core.book",
    "pmtape.capture.handoff",
    "pmtape.venues.polymarket.normalize",
    "pmtape.venues.polymarket.scan",  # Cython only (.pyx): without it the general path runs
)


def module_status(name: str) -> str:
    """Return ``compiled``, ``stale`` (extension older than its source), ``python`` or ``missing``.

    ``missing`` is a Cython-only module (a ``.pyx``) that was not built.
    """
    try:
        module = importlib.import_module(name)
    except ImportError:
        return "missing"
    path = Path(module.__file__ or "")
    if path.suffix == ".py":
        return "python"
    stem = path.name.split(".", 1)[0]
    sources = [path.with_name(stem + ext) for ext in (".py", ".pyx", ".pxd")]
    built = path.stat().st_mtime
    if any(src.exists() and src.stat().st_mtime > built for src in sources):
        return "stale"
    return "compiled"


def status() -> dict[str, str]:
    """Return the status of every module ``setup.py`` compiles."""
    return {name: module_status(name) for name in COMPILED_MODULES}


def all_compiled() -> bool:
    """Return whether every receive-path module runs compiled and current."""
    return all(v == "compiled" for v in status().values())


def summary() -> str:
    """Return one line: all compiled, or which modules are not (and what to do)."""
    states = status()
    bad = {k: v for k, v in states.items() if v != "compiled"}
    if not bad:
        return f"compiled receive path: all {len(states)} modules"
    names = ", ".join(f"{k} ({v})" for k, v in bad.items())
    return f"receive path NOT fully compiled: {names}; run `make build`"
