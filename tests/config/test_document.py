"""config/pmtape.toml documents every key, and is exactly what the generator renders."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pmtape.config import load_config
from pmtape.config.document import iter_keys, main, render_config_toml
from pmtape.config.load import RENAMED_KEYS
from pmtape.config.models import Config

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "pmtape.toml"
SECRETS = {"api_key", "api_secret", "api_key_id"}


def _lookup(data: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def test_shipped_file_is_the_generated_one() -> None:
    assert SHIPPED.read_text(encoding="utf-8") == render_config_toml(), (
        "config/pmtape.toml is stale: run `make config-doc`"
    )


def test_every_key_is_in_the_file_with_its_default() -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    defaults = Config().model_dump(mode="json")
    keys = list(iter_keys())
    assert len(keys) > 150  # the walk really reaches every venue
    for dotted in keys:
        leaf = dotted.rsplit(".", 1)[-1]
        present, value = _lookup(data, dotted)
        if leaf in SECRETS:
            assert not present, f"{dotted}: a secret must not be in the file"
            env = "PMTAPE_" + dotted.replace(".", "__").upper()
            assert re.search(rf"^# {leaf}: .*{env}=\.\.\.$", text, re.M | re.S), dotted
        elif _lookup(defaults, dotted)[1] is None:
            assert not present, dotted
            assert f"# {leaf} = " in text, f"{dotted}: no commented-out hint"
        else:
            assert present, f"{dotted} is missing from config/pmtape.toml"
            assert value == _lookup(defaults, dotted)[1], dotted


def test_loading_the_file_gives_the_built_in_defaults() -> None:
    assert load_config(SHIPPED, env={}) == load_config(None, env={}, use_default_path=False)


def test_every_key_has_a_description_and_bounds_are_shown() -> None:
    text = render_config_toml()
    assert "# cap on HOT + WARM subscriptions [>= 1]\nmax_subs = 200\n" in text
    assert '["ws" | "rest"]\nmode = "ws"\n' in text
    for old in RENAMED_KEYS:  # the renamed duration keys are explained
        assert old in text


def test_check_mode_reports_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pmtape.toml"
    assert main(["--write", str(out)]) == 0
    assert main(["--check", str(out)]) == 0
    out.write_text(out.read_text().replace("max_subs = 200\n", "", 1))
    assert main(["--check", str(out)]) == 1
    assert "stale" in capsys.readouterr().err
