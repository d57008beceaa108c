"""Synthetic market-channel JSON frames shaped like a real CLOB feed, for benches and tests."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from msgspec.json import encode


@dataclass(slots=True)
class _Market:
    market: str
    assets: tuple[str, str]
    mid_cents: int


def _hex(rng: random.Random, nbytes: int) -> str:
    return rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()


def _asset_id(rng: random.Random) -> str:
    return str(rng.randrange(10**76, 10**77))


class MarketChannelSynth:
    """Generate price_change, book and last_trade_price frames for a universe of binary markets."""

    def __init__(
        self, markets: int = 1000, seed: int = 7, start_ms: int = 1_760_000_000_000
    ) -> None:
        self._rng = random.Random(seed)
        rng = self._rng
        self._markets = [
            _Market("0x" + _hex(rng, 32), (_asset_id(rng), _asset_id(rng)), rng.randrange(5, 95))
            for _ in range(markets)
        ]
        self._ts_ms = start_ms
        self._px2 = [f"{c / 100:.2f}".rstrip("0").rstrip(".") for c in range(101)]
        self._px3 = [f"{c / 100 + 0.005:.3f}" for c in range(101)]
        sizes = [
            f"{rng.lognormvariate(5, 1.5):.2f}".rstrip("0").rstrip(".") for _ in range(1 << 16)
        ]
        self._sizes = ["0" if rng.random() < 0.15 else x for x in sizes]

    def frames(self, n: int) -> Iterator[bytes]:
        """Yield ``n`` JSON payloads (about 90% price_change, 6% book, 4% last_trade_price)."""
        rng = self._rng
        for _ in range(n):
            self._ts_ms += rng.randrange(0, 3)
            m = self._markets[int(rng.paretovariate(1.2)) % len(self._markets)]
            m.mid_cents = min(98, max(2, m.mid_cents + rng.choice((-1, 0, 0, 1))))
            roll = rng.random()
            if roll < 0.90:
                msg = self._price_change(m)
            elif roll < 0.96:
                msg = self._book(m)
            else:
                msg = self._trade(m)
            yield encode(msg)

    def _price(self, cents: int) -> str:
        return self._px3[cents] if self._rng.random() < 0.2 else self._px2[cents]

    def _size(self) -> str:
        return self._sizes[self._rng.getrandbits(16)]

    def _price_change(self, m: _Market) -> dict[str, object]:
        rng = self._rng
        n = rng.choice((1, 1, 2, 2, 2, 3))
        bid, ask = m.mid_cents, m.mid_cents + rng.choice((1, 1, 2))
        changes = []
        for i in range(n):
            side = rng.choice(("BUY", "SELL"))
            level = bid - rng.randrange(0, 4) if side == "BUY" else ask + rng.randrange(0, 4)
            changes.append(
                {
                    "asset_id": m.assets[i % 2],
                    "price": self._price(max(1, min(99, level))),
                    "size": self._size(),
                    "side": side,
                    "hash": "0x" + _hex(rng, 20),
                    "best_bid": self._price(bid),
                    "best_ask": self._price(min(99, ask)),
                }
            )
        return {
            "market": m.market,
            "price_changes": changes,
            "timestamp": str(self._ts_ms),
            "event_type": "price_change",
        }

    def _book(self, m: _Market) -> dict[str, object]:
        rng = self._rng
        depth = rng.randrange(5, 30)
        bids = [
            {"price": self._price(max(1, m.mid_cents - i)), "size": self._size()}
            for i in range(depth)
        ]
        asks = [
            {"price": self._price(min(99, m.mid_cents + 1 + i)), "size": self._size()}
            for i in range(depth)
        ]
        return {
            "market": m.market,
            "asset_id": m.assets[rng.randrange(2)],
            "timestamp": str(self._ts_ms),
            "hash": "0x" + _hex(rng, 20),
            "bids": bids[::-1],
            "asks": asks[::-1],
            "event_type": "book",
            "tick_size": "0.01",
        }

    def _trade(self, m: _Market) -> dict[str, object]:
        rng = self._rng
        return {
            "asset_id": m.assets[rng.randrange(2)],
            "event_type": "last_trade_price",
            "fee_rate_bps": "0",
            "market": m.market,
            "price": self._price(m.mid_cents),
            "side": rng.choice(("BUY", "SELL")),
            "size": self._size(),
            "timestamp": str(self._ts_ms),
        }
