"""The receive path runs compiled: every module setup.py lists is an up-to-date extension."""

from __future__ import annotations

import ast
from pathlib import Path

from pmtape import native

ROOT = Path(__file__).parents[1]


def test_every_receive_path_module_is_compiled_and_current() -> None:
    states = native.status()
    assert states == dict.fromkeys(native.COMPILED_MODULES, "compiled"), native.summary()


def test_setup_py_compiles_exactly_the_listed_modules() -> None:
    tree = ast.parse((ROOT / "setup.py").read_text())
    listed = next(
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "COMPILED" for t in node.targets)
    )
    as_modules = [p.removeprefix("src/").split(".")[0].replace("/", ".") for p in listed]
    assert as_modules == list(native.COMPILED_MODULES)


def test_an_edited_source_makes_its_extension_stale(tmp_path: Path) -> None:
    import os

    import pmtape.core.book as book

    so = Path(book.__file__ or "")
    src = so.with_name("book.pyx")
    built = so.stat().st_mtime
    mtime = src.stat().st_mtime
    try:
        os.utime(src, (built + 10, built + 10))
        assert native.module_status("pmtape.core.book") == "stale"
        assert "make build" in native.summary()
    finally:
        os.utime(src, (mtime, mtime))
    assert native.module_status("pmtape.core.book") == "compiled"
