"""[venues.kalshi]: real URLs by default, key id from the environment, mode selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmtape.config import load_config, redacted_dict
from pmtape.core.errors import ConfigError
from pmtape.net.restpoll import RestPollSession
from pmtape.venues.kalshi.adapter import KalshiAdapter
from pmtape.venues.kalshi.ws import KalshiWsSession
from pmtape.venues.registry import create_adapter
from tests.venues.kalshi.util import KEY_ID, throwaway_key


def test_defaults_are_the_real_hosts_and_the_venue_is_off() -> None:
    cfg = load_config(None, env={}, use_default_path=False)
    k = cfg.venues.kalshi
    assert k.rest_url == "https://external-api.kalshi.com/trade-api/v2"
    assert k.ws_url == "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
    assert not k.enabled
    assert "kalshi" not in cfg.venue_names()


def test_the_key_id_comes_from_the_environment_and_is_masked(tmp_path: Path) -> None:
    path, _ = throwaway_key(tmp_path)
    env = {
        "PMTAPE_VENUES__KALSHI__API_KEY_ID": KEY_ID,
        "PMTAPE_VENUES__KALSHI__PRIVATE_KEY_PATH": str(path),
        "PMTAPE_VENUES__KALSHI__ENABLED": "true",
    }
    cfg = load_config(None, env=env, use_default_path=False)
    assert KEY_ID not in str(redacted_dict(cfg))
    adapter = create_adapter("kalshi", cfg.venue("kalshi"))
    assert isinstance(adapter, KalshiAdapter)
    assert adapter.mode == "ws"
    assert isinstance(adapter.new_session(), KalshiWsSession)


def test_without_a_key_auto_mode_polls_rest_and_forced_ws_is_a_config_error() -> None:
    adapter = KalshiAdapter()
    assert adapter.mode == "rest"
    session = adapter.new_session()
    assert isinstance(session, RestPollSession)
    forced = KalshiAdapter(adapter.config.model_copy(update={"mode": "ws"}))
    with pytest.raises(ConfigError, match="API_KEY_ID"):
        forced.new_session()


def test_the_adapter_does_not_read_the_key_until_a_session_needs_it(tmp_path: Path) -> None:
    # Rebuild builds adapters from a stored config on machines without the key file.
    cfg = load_config(
        None,
        env={"PMTAPE_VENUES__KALSHI__API_KEY_ID": KEY_ID},
        overrides={"venues.kalshi.private_key_path": str(tmp_path / "gone.pem")},
        use_default_path=False,
    )
    adapter = create_adapter("kalshi", cfg.venue("kalshi"))
    assert adapter.new_normalizer().stats["frames"] == 0
    with pytest.raises(ConfigError, match="cannot read"):
        adapter.new_session()
