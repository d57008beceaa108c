"""Long-lived commands run on uvloop where installed, on asyncio's loop when asked."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from pmtape.core.errors import ConfigError
from pmtape.proc import runner
from pmtape.proc.runner import loop_name, run_until_signal


async def _which(stop: asyncio.Event) -> str:
    return loop_name(asyncio.get_running_loop())


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop not installed")
def test_auto_and_uvloop_run_on_uvloop() -> None:
    assert run_until_signal(_which) == "uvloop"
    assert run_until_signal(_which, loop="uvloop") == "uvloop"


def test_asyncio_runs_on_asyncios_own_loop() -> None:
    assert run_until_signal(_which, loop="asyncio") == "asyncio"


def test_without_uvloop_auto_falls_back_and_uvloop_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        runner.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "uvloop" else real(name, *a),
    )
    assert run_until_signal(_which) == "asyncio"
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        run_until_signal(_which, loop="uvloop")


def test_the_collector_setting_chooses_the_loop() -> None:
    from pmtape.config.load import load_config

    env = {"PMTAPE_COLLECTOR__EVENT_LOOP": "asyncio"}
    cfg = load_config(None, env=env, use_default_path=False)
    assert cfg.collector.event_loop == "asyncio"
    with pytest.raises(ConfigError):
        load_config(None, env={"PMTAPE_COLLECTOR__EVENT_LOOP": "trio"}, use_default_path=False)
