"""Fixtures shared across layers: a small, fast configuration of the whole pipeline."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pmtape.config import Config, load_config

# A venue small and fast enough that a few seconds show every mechanism at work.
FAST: dict[str, Any] = {
    "venues.sim.markets": 40,
    "venues.sim.updates_per_sec": 800,
    "venues.sim.hot_count": 8,
    "venues.sim.max_subs": 30,
    "venues.sim.rotation_period_s": 1,
    "venues.sim.snapshot_interval_ms_hot": 200,
    "venues.sim.snapshot_interval_ms_warm": 500,
    "venues.sim.subscription_churn_limit_per_minute": 600,
    "writer.flush_s": 0.5,
    "collector.log_interval_s": 1,
    "collector.state_poll_s": 0.5,
    "top_k": 10,
}


def fast_config(data_dir: Path, **extra: Any) -> Config:
    """Return the FAST config rooted at ``data_dir`` (no file, no environment)."""
    overrides = {**FAST, "data_dir": str(data_dir), **extra}
    return load_config(None, overrides=overrides, env={}, use_default_path=False)


def fast_flags(data_dir: Path) -> list[str]:
    """Return FAST as command-line flags for subprocess runs."""
    flags = ["--data-dir", str(data_dir)]
    for key, value in FAST.items():
        flags += ["--set", f"{key}={value}"]
    return flags


_RECURSION_LIMIT = sys.getrecursionlimit()
"""Python's limit before any test module is imported. Some official venue clients raise it
on import (py_ecc sets 10**5 or more); a test that nests frames past the limit then overflows
the C stack instead of raising RecursionError, and the whole run dies of a segfault."""


@pytest.fixture(autouse=True)
def _python_recursion_limit() -> Iterator[None]:
    sys.setrecursionlimit(_RECURSION_LIMIT)
    yield
    sys.setrecursionlimit(_RECURSION_LIMIT)


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return fast_config(tmp_path / "data")
