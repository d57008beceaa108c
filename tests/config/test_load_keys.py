"""Key names the loader accepts: renamed duration keys, stray env variables, --set origins."""

from pathlib import Path

import pytest

from pmtape.config import load_config
from pmtape.config.load import RENAMED_KEYS, is_known_key
from pmtape.config.models import Config
from pmtape.core.errors import ConfigError


def _load(warnings: list[str], **kwargs: object) -> Config:
    kwargs.setdefault("env", {})
    return load_config(None, use_default_path=False, warn=warnings.append, **kwargs)  # type: ignore[arg-type]


def test_old_secs_names_still_load_with_a_warning(tmp_path: Path) -> None:
    f = tmp_path / "old.toml"
    f.write_text("[writer]\nflush_secs = 2\n[venues.sim]\nrotation_period_secs = 30\n")
    warnings: list[str] = []
    cfg = load_config(f, env={"PMTAPE_COLLECTOR__LOG_INTERVAL_SECS": "3"}, warn=warnings.append)
    assert (cfg.writer.flush_s, cfg.venues.sim.rotation_period_s) == (2, 30)
    assert cfg.collector.log_interval_s == 3
    assert any("writer.flush_secs is now called writer.flush_s" in w for w in warnings)
    assert any("venues.sim.rotation_period_secs" in w and str(f) in w for w in warnings)
    assert any("PMTAPE_COLLECTOR__LOG_INTERVAL_SECS" in w for w in warnings)


def test_every_renamed_key_exists_under_its_new_name() -> None:
    names: set[str] = set()

    def walk(model: type) -> None:
        for key, field in model.model_fields.items():  # type: ignore[attr-defined]
            names.add(key)
            if isinstance(field.annotation, type) and hasattr(field.annotation, "model_fields"):
                walk(field.annotation)

    walk(Config)
    assert set(RENAMED_KEYS.values()) <= names
    assert not set(RENAMED_KEYS) & names


def test_stray_env_variable_is_warned_and_ignored() -> None:
    warnings: list[str] = []
    env = {"PMTAPE_CHAOS_SECS": "600", "PMTAPE_TOP_K": "20", "PMTAPE_VENUES__SIM__NOPE": "1"}
    cfg = _load(warnings, env=env)
    assert cfg.top_k == 20
    assert len(warnings) == 2
    assert any("PMTAPE_CHAOS_SECS: ignored" in w for w in warnings)
    assert any("PMTAPE_VENUES__SIM__NOPE: ignored" in w for w in warnings)


def test_env_may_set_a_key_inside_a_table() -> None:
    warnings: list[str] = []
    cfg = _load(warnings, env={"PMTAPE_VENUES__POLYMARKET__RATE_LIMITS__CLOB": "10"})
    assert cfg.venues.polymarket.rate_limits["clob"] == 10
    assert warnings == []


def test_known_key_paths() -> None:
    assert is_known_key(("venues", "kalshi", "rate_limits"))
    assert is_known_key(("venues", "kalshi", "rate_limits", "read"))
    assert not is_known_key(("venues", "kalshi", "rate_limits", "read", "x"))
    assert not is_known_key(("top_k", "x"))
    assert not is_known_key(("venues", "nasdaq"))
    assert is_known_key(("data_dir",))


def test_unknown_set_key_is_an_error_naming_set() -> None:
    with pytest.raises(ConfigError, match=r"nosuch: unknown key \(from --set nosuch\.key\)"):
        _load([], sets={"nosuch.key": "1"})


def test_unknown_file_key_stays_an_error(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text("chaos_secs = 3\n")
    with pytest.raises(ConfigError, match="chaos_secs: unknown key"):
        load_config(f, env={})
