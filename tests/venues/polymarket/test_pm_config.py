"""[venues.polymarket]: real URLs by default, off unless asked, every key from the environment."""

from __future__ import annotations

import pytest

from pmtape.config import load_config
from pmtape.core.errors import ConfigError
from pmtape.venues.polymarket.adapter import PolymarketAdapter
from pmtape.venues.polymarket.constants import CLOB_URL, GAMMA_URL, LIMITS, WS_URL
from pmtape.venues.polymarket.ws import MarketChannelSession
from pmtape.venues.registry import available, create_adapter


def test_off_by_default_with_the_real_public_urls() -> None:
    cfg = load_config(None, env={}, use_default_path=False)
    pm = cfg.venues.polymarket
    assert not pm.enabled
    assert "polymarket" not in cfg.venue_names()
    assert (pm.gamma_url, pm.clob_url, pm.ws_url) == (GAMMA_URL, CLOB_URL, WS_URL)
    assert pm.assets_per_connection == 200
    assert pm.max_markets == 2000
    assert pm.rate_limits == LIMITS  # the documented limits (PROTOCOLS.md §1.2)
    assert "polymarket" in available()


def test_urls_and_rules_come_from_the_environment_and_venue_flag_enables() -> None:
    env = {
        "PMTAPE_VENUES__POLYMARKET__WS_URL": "ws://127.0.0.1:9/ws/market",
        "PMTAPE_VENUES__POLYMARKET__SLUG_PATTERNS": '["btc-updown-15m-*", "eth-updown-1h-*"]',
        "PMTAPE_VENUES__POLYMARKET__ACTIVE_SET": "sticky",
    }
    cfg = load_config(None, env=env, venues=["polymarket"], use_default_path=False)
    pm = cfg.venues.polymarket
    assert cfg.venue_names() == ["polymarket"]
    assert pm.ws_url == "ws://127.0.0.1:9/ws/market"
    assert pm.slug_patterns == ["btc-updown-15m-*", "eth-updown-1h-*"]
    adapter = create_adapter("polymarket", pm)
    assert isinstance(adapter, PolymarketAdapter)
    assert adapter.supports_rest_books
    assert isinstance(adapter.new_session(), MarketChannelSession)


def test_bad_values_are_refused_with_the_key_named() -> None:
    with pytest.raises(ConfigError, match="assets_per_connection"):
        load_config(
            None,
            env={"PMTAPE_VENUES__POLYMARKET__ASSETS_PER_CONNECTION": "900"},
            use_default_path=False,
        )
    with pytest.raises(ConfigError, match="mode"):
        load_config(
            None, overrides={"venues.polymarket.mode": "fix"}, env={}, use_default_path=False
        )
