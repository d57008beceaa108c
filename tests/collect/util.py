"""Shared pieces of the collector tests."""

from __future__ import annotations

from typing import Any

from pmtape.cli.common import adapters_for
from pmtape.collect.collector import Collector
from pmtape.config.models import Config
from pmtape.discovery.service import discover_once


async def discovered_collector(cfg: Config, **kwargs: Any) -> Collector:
    """Discover the config's venues once, then return a collector of them (not started)."""
    adapters = adapters_for(cfg)
    await discover_once(cfg.data_dir, adapters)
    return Collector(cfg, adapters, **kwargs)
