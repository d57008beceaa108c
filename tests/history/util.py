"""Helpers of the history tests: the fake on a thread, bronze and truth as comparable rows."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pmtape.history.bronze import read_table
from pmtape.venues.polymarket.fake.data_api import HISTORY_END_S, TradeV2
from pmtape.venues.polymarket.fake.server import FakePolymarket

Row = tuple[str, str, str, int, int, int, str]


def truth_rows(trades: Iterable[TradeV2]) -> Counter[Row]:
    """Return the fake's trades as a multiset of (hash, token, side, ts, px_e6, sz_e6, wallet)."""
    return Counter(
        (
            t.transaction_hash,
            t.token_id,
            t.side,
            t.timestamp,
            round(t.price * 1_000_000),
            round(t.size * 1_000_000),
            t.proxy_wallet,
        )
        for t in trades
    )


def bronze_rows(data_dir: Path) -> Counter[Row]:
    """Return the bronze trades as the same multiset."""
    t = read_table(data_dir / "history", "trades").to_pydict()
    cols = ("transaction_hash", "token_id", "side", "ts_s", "price_e6", "size_e6", "proxy_wallet")
    return Counter(zip(*(t[c] for c in cols), strict=True))


def manifest_ok(data_dir: Path) -> bool:
    """Return whether ``sha256sum -c MANIFEST.sha256`` passes in ``history/``."""
    done = subprocess.run(
        ["sha256sum", "--quiet", "-c", "MANIFEST.sha256"],
        cwd=data_dir / "history",
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


class ThreadedFake:
    """A FakePolymarket served from its own event loop on a thread (for subprocess tests)."""

    def __init__(self, **kwargs: Any) -> None:
        self.fake = FakePolymarket(**kwargs)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakePolymarket:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(30)
        return self.fake

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


PricePoint = tuple[str, int, int, int]


def price_truth(fake: FakePolymarket) -> Counter[PricePoint]:
    """Return every historical price point the backfill must store once: (token, t, e6, fid).

    A token's fills past the fake's retention answer at 60 min, a resolved market's at 720:
    the fidelity the fallback must settle on. Windows are aligned to multiples of every
    bucket, so the points are the fills bucketed over the whole history.
    """
    now_s = int(time.time())
    out: Counter[PricePoint] = Counter()
    for m, _cid in fake.markets_of([]):
        for token in m.token_ids:
            last: dict[int, tuple[int, int]] = {}
            for ts, price, finest in fake.data_api.price_fills(token, now_s):
                bucket = 60 * finest
                last[ts - ts % bucket] = (round(price * 1_000_000), finest)
            out.update((token, t, p, fid) for t, (p, fid) in last.items())
    return out


def bronze_prices(data_dir: Path, until_s: int = HISTORY_END_S) -> Counter[PricePoint]:
    """Return the bronze price points up to ``until_s`` (the fake's history) as a multiset."""
    t = read_table(data_dir / "history", "prices").to_pydict()
    cols = ("token_id", "ts_s", "price_e6", "fidelity_min")
    return Counter(r for r in zip(*(t[c] for c in cols), strict=True) if r[1] <= until_s)
