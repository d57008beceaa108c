"""Config layering and one-line errors that name the key and where it came from."""

from pathlib import Path

import pytest

from pmtape.config import load_config, redacted_dict
from pmtape.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_example_holds_the_documented_defaults() -> None:
    cfg = load_config(ROOT / "config" / "pmtape.toml", env={})
    sim = cfg.venues.sim
    assert (sim.max_subs, sim.hot_count, sim.rotation_period_s) == (200, 40, 180)
    assert (sim.snapshot_interval_ms_hot, sim.snapshot_interval_ms_warm) == (2000, 10000)
    assert sim.subscription_churn_limit_per_minute == 20
    assert cfg.top_k == 50
    assert (cfg.writer.flush_rows, cfg.writer.flush_s, cfg.writer.bucket_minutes) == (
        50000,
        5,
        5,
    )
    assert cfg == load_config(None, env={}, use_default_path=False)


def test_precedence_defaults_file_env_flags(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text("top_k = 10\n[venues.sim]\nmarkets = 100\nhot_count = 5\n")
    env = {"PMTAPE_VENUES__SIM__MARKETS": "200", "PMTAPE_TOP_K": "20"}
    cfg = load_config(f, env=env, overrides={"top_k": 30})
    assert cfg.venues.sim.markets == 200  # env beats file
    assert cfg.venues.sim.hot_count == 5  # file beats default
    assert cfg.top_k == 30  # flag beats env


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text("[venues.sim]\nmax_sub = 3\n")
    with pytest.raises(ConfigError, match=rf"venues\.sim\.max_sub: unknown key \(from {f}\)"):
        load_config(f, env={})


def test_bad_value_names_env_variable() -> None:
    with pytest.raises(
        ConfigError, match=r"venues\.sim\.max_subs.*from env PMTAPE_VENUES__SIM__MAX_SUBS"
    ):
        load_config(None, env={"PMTAPE_VENUES__SIM__MAX_SUBS": "lots"}, use_default_path=False)


def test_bad_flag_and_cross_field_check() -> None:
    with pytest.raises(ConfigError, match="from flag --bucket-minutes"):
        load_config(None, env={}, overrides={"writer.bucket_minutes": 7}, use_default_path=False)
    with pytest.raises(ConfigError, match=r"hot_count \(500\) exceeds max_subs"):
        load_config(None, env={}, overrides={"venues.sim.hot_count": 500}, use_default_path=False)


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text("top_k = = 3\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(f, env={})
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_venue_flag_limits_and_rejects_unknown() -> None:
    cfg = load_config(None, env={}, venues=["sim"], use_default_path=False)
    assert cfg.venue_names() == ["sim"]
    with pytest.raises(ConfigError, match="--venue nasdaq: unknown venue"):
        load_config(None, env={}, venues=["nasdaq"], use_default_path=False)


def test_secrets_come_from_env_and_are_masked() -> None:
    cfg = load_config(None, env={"PMTAPE_VENUES__SIM__API_KEY": "s3cr3t"}, use_default_path=False)
    assert cfg.venues.sim.api_key is not None
    assert cfg.venues.sim.api_key.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in str(redacted_dict(cfg))
    assert "s3cr3t" not in repr(cfg)
