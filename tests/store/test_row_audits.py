"""Invariant audits of snapshot rows: each violation is flagged in ``err``, status unchanged."""

from __future__ import annotations

import pytest

from pmtape.core.book import Book
from pmtape.store.rows import SnapshotBatch, audit_levels
from tests.store.factories import make_book

E6 = 1_000_000


def _row(book: Book, **kwargs: object) -> tuple[list[str] | None, dict[str, object]]:
    batch = SnapshotBatch()
    bad = batch.append_book(2_000, "sim", "m1", "yes", book, 2_000, None, **kwargs)  # type: ignore[arg-type]
    return bad, batch.to_table().to_pylist()[0]


def test_a_sound_book_passes_every_audit() -> None:
    book = make_book([(0.40, 5), (0.39, 2)], [(0.42, 3)])
    bad, row = _row(book, tick_e6=10_000, pair=make_book([(0.58, 1)], [(0.60, 1)]))
    assert bad is None
    assert row["status"] == "ok"
    assert row["err"] is None


@pytest.mark.parametrize(
    ("bids", "asks"),
    [([(0.50, 1)], [(0.50, 1)]), ([(0.55, 1)], [(0.50, 1)])],
    ids=["locked", "crossed"],
)
def test_crossed_or_locked_book(
    bids: list[tuple[float, float]], asks: list[tuple[float, float]]
) -> None:
    bad, row = _row(make_book(bids, asks))
    assert bad == ["crossed"]
    assert row["status"] == "ok"  # status keeps today's meaning; the audit is in err
    assert row["err"] == "audit: crossed"


@pytest.mark.parametrize(
    ("bids", "asks"),
    [
        ([(1.0, 1)], []),
        ([(0.40, 1), (0.0, 1)], [(0.45, 1)]),
        ([(0.40, 1)], [(0.45, 1), (1.2, 1)]),
        ([], [(-0.01, 1)]),
    ],
    ids=["bid-at-1", "bid-at-0-deep", "ask-above-1-deep", "negative-ask"],
)
def test_price_outside_the_open_unit_interval(
    bids: list[tuple[float, float]], asks: list[tuple[float, float]]
) -> None:
    bad, row = _row(make_book(bids, asks))
    assert bad is not None
    assert "px_range" in bad
    assert "audit: " in str(row["err"])
    assert "px_range" in str(row["err"])


def test_price_range_audit_looks_only_at_kept_levels() -> None:
    book = make_book([(0.40, 1)], [(0.45, 1), (0.50, 1), (1.5, 1)], top_k=2)
    bad, _ = _row(book)
    assert bad is None


def test_size_audit_at_the_row_builder_level() -> None:
    # pmtape's normalizers drop size-0 levels and the book never keeps one, so a zero or
    # negative size cannot reach a row through a fake: the audit is tested on the levels.
    px_b, px_a = [400_000, 390_000], [420_000]
    assert audit_levels(px_b, [E6, 0], px_a, [E6]) == ["size"]
    assert audit_levels(px_b, [E6, E6], px_a, [-1]) == ["size"]
    assert audit_levels(px_b, [E6, E6], px_a, [E6]) is None


def test_off_tick_prices_only_where_the_tick_is_known() -> None:
    book = make_book([(0.405, 1)], [(0.42, 1)])
    bad, row = _row(book, tick_e6=10_000)
    assert bad == ["off_tick"]
    assert row["err"] == "audit: off_tick"
    assert _row(book, tick_e6=1_000)[0] is None
    assert _row(book)[0] is None  # tick unknown (0): not audited


def test_pair_drift_beyond_the_tolerance() -> None:
    yes = make_book([(0.40, 1)], [(0.42, 1)])
    mirrored = make_book([(0.58, 1)], [(0.60, 1)])
    drifted = make_book([(0.58, 1)], [(0.65, 1)])  # YES bid + NO ask = 1.05
    assert _row(yes, pair=mirrored, pair_tolerance_e6=10_000)[0] is None
    bad, row = _row(yes, pair=drifted, pair_tolerance_e6=10_000)
    assert bad == ["pair_drift"]
    assert row["err"] == "audit: pair_drift"
    assert _row(yes, pair=drifted, pair_tolerance_e6=60_000)[0] is None


def test_pair_drift_is_not_judged_against_a_stale_sibling() -> None:
    yes = make_book([(0.40, 1)], [(0.42, 1)])
    drifted = make_book([(0.58, 1)], [(0.65, 1)])
    drifted.mark_stale("reconnect")
    assert _row(yes, pair=drifted, pair_tolerance_e6=10_000)[0] is None


def test_an_audit_reason_follows_the_status_reason() -> None:
    book = make_book([(0.40, 1), (0.0, 1)], [])
    bad, row = _row(book)
    assert bad == ["px_range"]
    assert row["status"] == "partial"
    assert row["err"] == "no asks; audit: px_range"


def test_several_failures_are_listed_together() -> None:
    book = make_book([(0.505, 1)], [(0.50, 1), (1.0, 1)])
    bad, row = _row(book, tick_e6=10_000)
    assert bad == ["crossed", "px_range", "off_tick"]
    assert row["err"] == "audit: crossed,px_range,off_tick"
