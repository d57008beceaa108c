"""[venues.limitless]: real URLs by default, off, REST polling unless the feed is asked for."""

from __future__ import annotations

import pytest

from pmtape.config import load_config
from pmtape.core.errors import ConfigError
from pmtape.net.restpoll import RestPollSession
from pmtape.venues.limitless.ws import LimitlessFeedSession
from pmtape.venues.registry import create_adapter


def test_defaults_are_the_real_hosts_off_and_rest() -> None:
    cfg = load_config(None, env={}, use_default_path=False)
    lim = cfg.venues.limitless
    assert lim.rest_url == "https://api.limitless.exchange"
    assert lim.ws_url == "wss://ws.limitless.exchange"
    assert not lim.enabled
    assert lim.mode == "rest"
    assert isinstance(create_adapter("limitless", lim).new_session(), RestPollSession)


def test_the_feed_and_the_filters_are_configurable() -> None:
    overrides = {
        "venues.limitless.mode": "ws",
        "venues.limitless.underlyings": ["btc", "eth"],
        "venues.limitless.categories": ["Crypto"],
    }
    cfg = load_config(None, overrides=overrides, env={}, use_default_path=False)
    assert cfg.venues.limitless.underlyings == ["btc", "eth"]
    assert isinstance(
        create_adapter("limitless", cfg.venue("limitless")).new_session(), LimitlessFeedSession
    )


def test_pages_above_25_are_refused_at_load() -> None:
    with pytest.raises(ConfigError, match="discovery_page_size"):
        load_config(
            None,
            overrides={"venues.limitless.discovery_page_size": 50},
            env={},
            use_default_path=False,
        )
