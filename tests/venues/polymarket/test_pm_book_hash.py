"""Book-hash verification end to end: the fake's hash fault -> counted mismatches, stale rows.

A collector runs against the fake with capture on; with every served hash wrong, the
normalizer counts mismatches and the archive holds ``stale`` rows with err ``hash mismatch``;
``pmtape rebuild`` of the captured run yields them too. A clean run has none and checks pass.
With markets whose ``min_order_size``/``neg_risk`` are not the defaults, the channel's books
are checked with the values discovery found (kept in the capture's subscribe records, so a
rebuild checks them alike), and nothing is assumed.
"""

from __future__ import annotations

import asyncio
import operator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pmtape.capture.format import FrameKind
from pmtape.capture.reader import CaptureReader
from pmtape.collect.collector import Collector
from pmtape.collect.rebuild import rebuild
from pmtape.config import Config, load_config
from pmtape.core.events import BookSnapshot
from pmtape.discovery.service import discover_once
from pmtape.venues.polymarket.fake.faults import FakeFaults
from pmtape.venues.polymarket.fake.server import FakePolymarket
from pmtape.venues.polymarket.messages import (
    DEFAULT_MIN_ORDER_SIZE,
    DEFAULT_NEG_RISK,
    RAW_MIN_ORDER_SIZE,
    RAW_NEG_RISK,
)
from pmtape.venues.polymarket.normalize import HASH_MISMATCH, PolymarketNormalizer
from pmtape.venues.polymarket.scan import price_change
from pmtape.venues.registry import create_adapter
from tests.helpers import eventually


def _rows(data_dir: Path) -> list[dict[str, Any]]:
    files = sorted((data_dir / "orderbook_snapshots").rglob("*.parquet"))
    return pa.concat_tables(pq.read_table(f) for f in files).to_pylist() if files else []


def _config(fake: FakePolymarket, tmp_path: Path) -> Config:
    overrides = {
        **fake.config_overrides(),
        "data_dir": str(tmp_path),
        "top_k": 5,
        "venues.polymarket.max_subs": 8,
        "venues.polymarket.hot_count": 8,
        "venues.polymarket.snapshot_interval_ms_hot": 100,
        "venues.polymarket.ping_interval_s": 0.5,
        "writer.flush_s": 0.2,
        "collector.state_poll_s": 0.2,
        "capture.enabled": True,
    }
    return load_config(
        None, overrides=overrides, venues=["polymarket"], env={}, use_default_path=False
    )


async def _collect(
    tmp_path: Path, bad_hash_prob: float, *, varied: bool = False
) -> tuple[dict[str, Any], Path]:
    faults = FakeFaults(bad_hash_prob=bad_hash_prob, missing_hash_prob=0.0)
    async with FakePolymarket(
        markets=4, rate=300, seed=5, trade_ratio=0.2, faults=faults, varied_settings=varied
    ) as fake:
        cfg = _config(fake, tmp_path)
        adapter = create_adapter("polymarket", cfg.venue("polymarket"))
        await discover_once(cfg.data_dir, {"polymarket": adapter})
        collector = Collector(cfg, {"polymarket": adapter})
        venue = collector.venues["polymarket"]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run_until(stop))
        try:
            await eventually(
                lambda: venue.status()["norm_hash_ok"] + venue.status()["norm_hash_mismatch"] >= 8
            )
            await eventually(lambda: venue.counters["frames"] > 200)
            status = venue.status()
        finally:
            stop.set()
            summary = await task
    assert summary.run_dir is not None
    return status, Path(summary.run_dir)


@pytest.mark.asyncio
async def test_wrong_hashes_are_counted_and_their_books_archived_stale(tmp_path: Path) -> None:
    status, run_dir = await _collect(tmp_path / "live", 1.0)
    assert status["norm_hash_mismatch"] > 0
    assert status["norm_hash_ok"] == 0
    live = [r for r in _rows(tmp_path / "live") if HASH_MISMATCH in (r["err"] or "")]
    assert live
    assert all(r["status"] == "stale" for r in live)
    rebuild(run_dir, tmp_path / "rebuilt")
    rebuilt = [r for r in _rows(tmp_path / "rebuilt") if HASH_MISMATCH in (r["err"] or "")]
    assert rebuilt
    assert all(r["status"] == "stale" for r in rebuilt)


@pytest.mark.asyncio
async def test_a_clean_run_checks_hashes_and_finds_no_mismatch(tmp_path: Path) -> None:
    status, _ = await _collect(tmp_path, 0.0)
    assert status["norm_hash_ok"] > 0
    assert status["norm_hash_mismatch"] == 0
    assert not [r for r in _rows(tmp_path) if HASH_MISMATCH in (r["err"] or "")]


def _subscribed_rows(run_dir: Path) -> list[list[Any]]:
    frames = CaptureReader(run_dir).frames()
    bodies = [msgspec.json.decode(f.payload) for f in frames if f.kind is FrameKind.SUBSCRIBE]
    return [row for body in bodies for row in body["instruments"]]


@pytest.mark.asyncio
async def test_channel_books_are_checked_with_the_market_settings_discovery_found(
    tmp_path: Path,
) -> None:
    status, run_dir = await _collect(tmp_path / "live", 0.0, varied=True)
    assert status["norm_hash_ok"] > 0
    assert status["norm_hash_mismatch"] == 0
    assert status["norm_hash_assumed_defaults"] == 0
    # The subscribe records carry each market's settings, and some are not the defaults.
    rows = _subscribed_rows(run_dir)
    raws = {row[2]: next(x for x in row[3:] if isinstance(x, dict)) for row in rows}
    stated = {k: (raw[RAW_MIN_ORDER_SIZE], raw[RAW_NEG_RISK]) for k, raw in raws.items()}
    assert len(stated) == len(rows) > 0
    assert set(stated.values()) - {(DEFAULT_MIN_ORDER_SIZE, DEFAULT_NEG_RISK)}
    assert not [r for r in _rows(tmp_path / "live") if HASH_MISMATCH in (r["err"] or "")]
    rebuild(run_dir, tmp_path / "rebuilt")  # checks the same books with the recorded settings
    rebuilt = _rows(tmp_path / "rebuilt")
    assert rebuilt
    assert not [r for r in rebuilt if HASH_MISMATCH in (r["err"] or "")]


@pytest.mark.asyncio
async def test_a_normalizer_learns_each_markets_settings_from_discovered_instruments(
    tmp_path: Path,
) -> None:
    async with FakePolymarket(markets=8, rate=0, seed=3, varied_settings=True) as fake:
        adapter = create_adapter("polymarket", _config(fake, tmp_path).venue("polymarket"))
        found = await adapter.discover(fake.generator.now_ms)
        markets = {t: m.market_id for m in fake.generator.active_markets for t in m.token_ids}
        insts = [i for i in found.instruments if i.poll_key in markets]
        assert len(insts) == len(markets) > 0
        for inst in insts:
            mos, neg = fake.encoder.settings(markets[inst.poll_key])
            assert inst.raw == {RAW_MIN_ORDER_SIZE: mos, RAW_NEG_RISK: neg}
        defaults = (DEFAULT_MIN_ORDER_SIZE, DEFAULT_NEG_RISK)
        odd = next(  # a market where both differ from the defaults
            i
            for i in insts
            if all(map(operator.ne, fake.encoder.settings(markets[i.poll_key]), defaults))
        )
        frame = msgspec.json.encode(
            fake.encoder.book(fake.generator.snapshot_of(odd.poll_key), with_hash=True)
        )
        async with aiohttp.ClientSession() as http:
            url = f"{fake.urls['clob_url']}/book?token_id={odd.poll_key}"
            async with http.get(url) as resp:
                rest = await resp.read()
    for scan in (True, False):
        norm = PolymarketNormalizer(scan=scan)
        (snap,) = norm.normalize(frame, 1)
        assert isinstance(snap, BookSnapshot)
        assert snap.stale_reason == HASH_MISMATCH  # the defaults do not fit this market
        norm.learn(insts)
        (snap,) = norm.normalize(frame, 2)
        assert isinstance(snap, BookSnapshot)
        assert snap.stale_reason is None
        assert (norm.stats["hash_ok"], norm.stats["hash_mismatch"]) == (1, 1)
        assert norm.stats["hash_assumed_defaults"] == 1  # the first check only
        # The venue's REST body states them too (and the scanner takes it, checked).
        norm = PolymarketNormalizer(scan=scan)
        (snap,) = norm.normalize(rest, 3)
        assert isinstance(snap, BookSnapshot)
        assert snap.stale_reason is None
        (snap,) = norm.normalize(frame, 4)
        assert isinstance(snap, BookSnapshot)
        assert snap.stale_reason is None
        assert (norm.stats["hash_ok"], norm.stats["hash_assumed_defaults"]) == (2, 0)
    taken = price_change(rest, 5, {}, [], {"hash_ok": 0, "hash_assumed_defaults": 0}, {}, _ignore)
    assert taken == 0  # read from its bytes (no book kept), not declined


def _ignore(*_: Any) -> None:
    pass
