"""Shared pieces of the Limitless tests: an adapter on a fake, a book-keeping sink."""

from __future__ import annotations

from typing import Any

from pmtape.config.models import LimitlessVenueConfig
from pmtape.venues.limitless.adapter import LimitlessAdapter
from pmtape.venues.limitless.fake.server import FakeLimitless
from pmtape.venues.limitless.normalize import LimitlessNormalizer
from tests.helpers import eventually
from tests.venues.kalshi.util import BookSink, running

__all__ = ["BookSink", "adapter_for", "running", "settled", "sink"]


def adapter_for(fake: FakeLimitless, **overrides: Any) -> LimitlessAdapter:
    """Return the real adapter pointed at ``fake``, with quick test timings."""
    settings: dict[str, Any] = {
        "enabled": True,
        "rest_url": fake.urls["rest_url"],
        "ws_url": fake.urls["ws_url"],
        "reconnect_backoff_base_s": 0.05,
        "reconnect_backoff_max_s": 0.5,
        "poll_interval_s": 0.2,
        "subscribe_interval_s": 0.05,
        "rate_limits": {"global": 500, "discovery": 100},
        **overrides,
    }
    return LimitlessAdapter(LimitlessVenueConfig.model_validate(settings))


def sink() -> BookSink:
    """Return a sink normalizing with the Limitless normalizer."""
    return BookSink(LimitlessNormalizer())


async def settled(fake: FakeLimitless, book_sink: BookSink, keys: list[str]) -> None:
    """Pause the fake, let everything in flight arrive, and wait for every book to match."""
    await fake.quiesce()
    await eventually(lambda: all(book_sink.matches(fake, k) for k in keys), timeout_s=10)
