"""While collecting, what lives as long as the run is kept out of the garbage collector.

A full collection walks every tracked object; with thousands of books that is a loop
stall of tens of milliseconds (seen as 60-120 ms in the live bench). The collector freezes
start-up, then once more after each venue's first subscriptions built its books.
"""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import pytest

from tests.collect.util import discovered_collector
from tests.conftest import fast_config
from tests.helpers import eventually


def _tracked_ids() -> set[int]:
    return {id(o) for o in gc.get_objects()}  # the generations swept, not the frozen ones


@pytest.mark.asyncio
async def test_books_of_the_first_subscriptions_are_frozen_and_all_is_undone_after(
    tmp_path: Path,
) -> None:
    cfg = fast_config(tmp_path / "data")
    collector = await discovered_collector(cfg, capture=False)
    venue = collector.venues["sim"]
    threshold = gc.get_threshold()
    books: list[object] = []
    freeze = venue.on_first_subscribe
    assert freeze is not None

    def first_subscribe() -> None:  # the books as they are when the collector freezes
        freeze()
        books.extend(venue.state.books.values())

    venue.on_first_subscribe = first_subscribe
    stop = asyncio.Event()
    run = asyncio.create_task(collector.run_until(stop, 30))
    try:
        await eventually(lambda: len(books) > 0)
        assert gc.is_tracked(books[0])  # a Book is a container the collector would sweep
        swept = _tracked_ids()
        assert not any(id(b) in swept for b in books)
        assert gc.get_threshold() != threshold
    finally:
        stop.set()
        summary = await run
    assert summary.fatal is None
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == 0
