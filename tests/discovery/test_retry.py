"""One-shot discovery rides out a 429: retried within the cycle after the venue's Retry-After."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pmtape.cli.common import adapters_for
from pmtape.config import load_config
from pmtape.discovery.service import RETRY_ATTEMPTS, RETRY_MAX_WAIT_S, discover_once
from pmtape.venues.limitless.fake.server import FakeLimitless


def _config(fake: FakeLimitless, data_dir: Path, **extra: Any) -> Any:
    overrides = {**fake.config_overrides(), "data_dir": str(data_dir), **extra}
    return load_config(
        None, overrides=overrides, venues=["limitless"], env={}, use_default_path=False
    )


@pytest.mark.asyncio
async def test_one_429_is_retried_after_its_retry_after(tmp_path: Path) -> None:
    async with FakeLimitless(markets=6, seed=3) as fake:
        fake.faults.http_error_statuses = (429,)
        fake.faults.retry_after_s = 0.2
        fake.faults.http_error_next = 1
        cfg = _config(fake, tmp_path)
        (summary,) = await discover_once(cfg.data_dir, adapters_for(cfg))
    assert summary.error is None
    assert summary.instruments > 0
    assert fake.stats["http_error_429"] == 1


@pytest.mark.asyncio
async def test_a_retry_after_beyond_the_bound_fails_the_cycle_at_once(tmp_path: Path) -> None:
    async with FakeLimitless(markets=6, seed=3) as fake:
        fake.faults.http_error_statuses = (429,)
        fake.faults.retry_after_s = RETRY_MAX_WAIT_S * 2  # read, and judged too long to wait
        fake.faults.http_error_next = 1
        cfg = _config(fake, tmp_path, **{"venues.limitless.cooldown_max_s": RETRY_MAX_WAIT_S * 3})
        (summary,) = await discover_once(cfg.data_dir, adapters_for(cfg))
    assert summary.error is not None
    assert fake.stats["http_error_429"] == 1


@pytest.mark.asyncio
async def test_a_venue_that_keeps_refusing_fails_the_cycle_after_a_bounded_number_of_tries(
    tmp_path: Path,
) -> None:
    async with FakeLimitless(markets=6, seed=3) as fake:
        fake.faults.http_error_statuses = (429,)
        fake.faults.retry_after_s = 0.01
        fake.faults.http_error_next = 1_000
        cfg = _config(fake, tmp_path)
        (summary,) = await discover_once(cfg.data_dir, adapters_for(cfg))
    assert summary.error is not None
    assert "429" in summary.error
    assert fake.stats["http_error_429"] == RETRY_ATTEMPTS


@pytest.mark.asyncio
async def test_a_bad_request_is_not_retried(tmp_path: Path) -> None:
    async with FakeLimitless(markets=6, seed=3) as fake:
        fake.faults.http_error_statuses = (400,)
        fake.faults.http_error_next = 1
        cfg = _config(fake, tmp_path)
        (summary,) = await discover_once(cfg.data_dir, adapters_for(cfg))
    assert summary.error is not None
    assert fake.stats["http_error_400"] == 1
