"""The Kalshi WebSocket session: signed handshakes, per-sid sequence checks, repair by snapshot.

Kalshi's protocol on the shared engine (``net.wsengine``): tickers are packed into
connections of at most ``max_keys_per_conn``; each connection attempt carries fresh
``KALSHI-ACCESS-*`` headers (§2.2) and keeps its subscriptions in a ``ws_subs.SubTable``
that dies with the socket. Faults and what the session does:

* refused or dropped connection: ``error`` (kind ``connect``) / ``disconnected`` with the
  connection's tickers, reconnect after exponential backoff with full jitter; every sid is
  new afterwards and the fresh snapshots repair the books;
* the handshake answered 401/403 (bad key or signature): ``error`` with kind ``auth`` and
  the next try only after ``auth_retry_s`` — never a retry storm (``VenueAuthError``
  semantics, without raising into the collector, which other venues share);
* a ``seq`` gap on an order-book sid: ``disconnected`` with that sid's tickers and reason
  ``seq_gap`` (the collector marks those books stale), then ``get_snapshot`` for them; a
  refused ``get_snapshot`` reconnects the connection;
* a dead socket: WebSocket pings every ``heartbeat_s`` and a close on no pong (the venue's
  own 10 s pings are answered automatically).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from pmtape.core.errors import VenueAuthError
from pmtape.net.wsengine import ShardedWsSession, WsSettings
from pmtape.net.wsproto import Failure, FrameAction, Shard, WsProtocol, error_text
from pmtape.venues.kalshi.auth import KalshiSigner
from pmtape.venues.kalshi.constants import CHANNEL_BOOK, CHANNEL_LIFECYCLE, CHANNEL_TRADE
from pmtape.venues.kalshi.ws_subs import SubTable

_AUTH_STATUSES = (401, 403)


class KalshiProtocol(WsProtocol):
    """One signed connection: its subscriptions (sids), sequences and repairs."""

    def __init__(
        self,
        signer: KalshiSigner,
        sign_path: str,
        table: SubTable,
        auth_retry_s: float,
        *,
        lifecycle: bool = False,
    ) -> None:
        self._signer = signer
        self._sign_path = sign_path
        self.table = table
        self._auth_retry_s = auth_retry_s
        self._lifecycle = lifecycle

    def headers(self) -> dict[str, str] | None:
        """Return fresh signature headers for this upgrade."""
        return self._signer.headers("GET", self._sign_path)

    def open_frames(self, keys: Sequence[str]) -> list[str]:
        """Return ``subscribe`` commands for the connection's tickers (and, on the connection
        that carries it, the venue-wide ``market_lifecycle_v2``)."""
        watch = [self.table.watch(CHANNEL_LIFECYCLE)] if self._lifecycle else []
        return watch + self.table.subscribe(keys)

    def subscribe_frames(self, keys: Sequence[str]) -> list[str] | None:
        """Return ``subscribe`` commands opening new sids for these tickers."""
        return self.table.subscribe(keys)

    def unsubscribe_frames(self, keys: Sequence[str]) -> list[str] | None:
        """Return ``update_subscription``/``unsubscribe`` commands dropping these tickers."""
        return self.table.unsubscribe(keys)

    def resync_frames(self, keys: Sequence[str]) -> list[str] | None:
        """Return ``get_snapshot`` commands for these tickers."""
        return self.table.snapshot(keys)

    def on_frame(self, payload: bytes) -> FrameAction | None:
        """Check replies and sequences; a gap marks its sid's books stale and asks again."""
        found = self.table.inspect(payload)
        if found is None:
            return None
        events: list[tuple[str, dict[str, Any]]] = []
        if found.gap is not None:
            sub, expected, got = found.gap
            detail = {
                "keys": sorted(sub.tickers),
                "reason": "seq_gap",
                "sid": sub.sid,
                "expected": expected,
                "got": got,
            }
            events.append(("disconnected", detail))
        if found.error is not None:
            events.append(("error", found.error))
        return FrameAction(events=events, send=found.send, reconnect=found.reconnect)

    def failure(self, exc: Exception) -> Failure:
        """Report a refused key or signature as ``auth`` (retried after auth_retry_s)."""
        if isinstance(exc, aiohttp.WSServerHandshakeError):
            if exc.status in _AUTH_STATUSES:
                refused = VenueAuthError(f"kalshi: WebSocket handshake refused: HTTP {exc.status}")
                head = {"kind": "auth", "error_type": "VenueAuthError", "error": str(refused)}
                return Failure(head, stat="auth_refusals", retry_in_s=self._auth_retry_s)
            text = f"handshake failed: HTTP {exc.status}"
        else:
            text = error_text(exc)
        return Failure({"kind": "connect", "error_type": "VenueUnavailable", "error": text})


class KalshiWsSession(ShardedWsSession):
    """Order books (and trades) of Kalshi tickers over signed WebSocket connections."""

    def __init__(
        self,
        settings: WsSettings,
        signer: KalshiSigner,
        *,
        markets_per_subscription: int = 100,
        trades: bool = True,
        auth_retry_s: float = 900.0,
        rng: random.Random | None = None,
        lifecycle_channel: bool = True,
    ) -> None:
        if markets_per_subscription < 1:
            raise ValueError("markets_per_subscription must be >= 1")
        channels = (CHANNEL_BOOK, CHANNEL_TRADE) if trades else (CHANNEL_BOOK,)
        sign_path = urlsplit(settings.url).path or "/"
        ids = itertools.count(1)  # command ids are unique across the session's connections

        def protocol(shard: Shard) -> KalshiProtocol:
            table = SubTable(channels, markets_per_subscription, ids, stats=shard.stats)
            # One connection carries the venue-wide lifecycle channel (every socket would
            # receive every market's events otherwise).
            lifecycle = lifecycle_channel and shard.index == 0
            return KalshiProtocol(signer, sign_path, table, auth_retry_s, lifecycle=lifecycle)

        super().__init__(settings, protocol, rng=rng)

    def conn_stats(self) -> list[dict[str, Any]]:
        """Return per-connection counters: keys, connects, gaps, snapshot requests, ..."""
        return [{"conn": row.pop("shard"), **row} for row in self.shard_stats()]
