"""One Kalshi connection's subscriptions: the commands to send, the replies, the sequence.

Every ``subscribe`` call opens new subscriptions (one ``sid`` per channel and chunk of
tickers) rather than growing an old one, so a ``sid`` never waits on another's reply and a
sequence gap costs only the books of one chunk. Removing tickers sends ``delete_markets``
(one sid per command, ``action`` inside ``params``) or ``unsubscribe`` for a sid left empty;
removals that race a pending ``subscribe`` are sent once its ``subscribed`` reply names the
sid.

Gap detection lives here, not in the normalizer, so that normalizing stays a function of the
frames alone: every frame is peeked at for ``type``/``id``/``sid``/``seq`` (a lean typed
decode that skips the body) and ``seq`` must be the sid's previous ``seq`` + 1 — snapshots,
deltas and ``ok`` replies share one sequence per sid (§2.6.5). On a gap in an order-book
subscription the caller marks that sid's books stale and sends the ``get_snapshot`` built
here; if the venue refuses it the caller reconnects (every sid is new after a reconnect).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from pmtape.venues.base import DECODE_ERRORS
from pmtape.venues.kalshi.constants import (
    ACTION_DELETE,
    ACTION_SNAPSHOT,
    CHANNEL_BOOK,
    CMD_SUBSCRIBE,
    CMD_UNSUBSCRIBE,
    CMD_UPDATE,
    ERR_AUTH,
)
from pmtape.venues.kalshi.messages import Command

_encode = msgspec.json.Encoder().encode


class _PeekMsg(msgspec.Struct, gc=False):
    channel: str = ""
    sid: int | None = None
    code: int | None = None
    msg: str = ""


class _Peek(msgspec.Struct, gc=False):
    type: str = ""
    id: int | None = None
    sid: int | None = None
    seq: int | None = None


class _PeekReply(msgspec.Struct, gc=False):
    msg: _PeekMsg | None = None


_peek = msgspec.json.Decoder(_Peek).decode
_peek_reply = msgspec.json.Decoder(_PeekReply).decode


class Sub:
    """One subscription: a channel and its tickers; ``sid`` once the venue named it."""

    __slots__ = ("channel", "cmd_id", "dropped", "last_seq", "sid", "tickers")

    def __init__(self, channel: str, cmd_id: int, tickers: Iterable[str]) -> None:
        self.channel = channel
        self.cmd_id = cmd_id
        self.sid: int | None = None
        self.tickers: set[str] = set(tickers)
        self.dropped: set[str] = set()
        self.last_seq: int | None = None


@dataclass
class Inspection:
    """What one frame asks of the connection."""

    send: list[str] = field(default_factory=list)
    gap: tuple[Sub, int, int] | None = None
    """(subscription, expected seq, received seq) of an order-book gap."""
    reconnect: str = ""
    """Why the connection should be dropped (a refused ``get_snapshot``), else empty."""
    error: dict[str, Any] | None = None
    """A refused command worth reporting as a session error."""


class SubTable:
    """The subscriptions of one socket (each connection attempt builds a new table)."""

    def __init__(
        self,
        channels: Sequence[str],
        per_sub: int,
        ids: itertools.count[int] | None = None,
        *,
        stats: Counter[str] | None = None,
    ) -> None:
        self.channels = tuple(channels)
        self.per_sub = per_sub
        self._ids = ids or itertools.count(1)
        self.stats: Counter[str] = Counter() if stats is None else stats
        """Counters (gaps, snapshot requests, refusals): the connection's, across sockets."""
        self.reset()

    def reset(self) -> None:
        """Forget every subscription (the connection is gone; sids die with it)."""
        self.pending: dict[tuple[int, str], Sub] = {}
        self.by_sid: dict[int, Sub] = {}
        self.sub_of: dict[tuple[str, str], Sub] = {}  # (channel, ticker) -> sub
        self.resyncs: dict[int, Sub] = {}  # get_snapshot command id -> sub

    # -- commands ------------------------------------------------------------------------------

    def subscribe(self, tickers: Sequence[str]) -> list[str]:
        """Return ``subscribe`` commands opening new subscriptions for these tickers."""
        chunks = [list(tickers[i : i + self.per_sub]) for i in range(0, len(tickers), self.per_sub)]
        return [self._open(channel, chunk) for chunk in chunks for channel in self.channels]

    def watch(self, channel: str) -> str:
        """Return a ``subscribe`` command for a venue-wide channel (every market, no tickers).

        Used for ``market_lifecycle_v2``: markets opening and resolving anywhere, which is
        how a new market reaches the collector before the next discovery cycle.
        """
        cmd_id = next(self._ids)
        self.pending[(cmd_id, channel)] = Sub(channel, cmd_id, ())
        return _command(cmd_id, CMD_SUBSCRIBE, {"channels": [channel]})

    def unsubscribe(self, tickers: Iterable[str]) -> list[str]:
        """Return the commands that stop these tickers on every channel."""
        touched: dict[int, tuple[Sub, list[str]]] = {}
        for ticker in tickers:
            for channel in self.channels:
                sub = self.sub_of.pop((channel, ticker), None)
                if sub is not None:
                    sub.tickers.discard(ticker)
                    touched.setdefault(id(sub), (sub, []))[1].append(ticker)
        frames = []
        for sub, gone in touched.values():
            if sub.sid is None:
                sub.dropped.update(gone)  # sent once the reply names the sid
            else:
                frames.append(self._shrink(sub, gone))
        return frames

    def snapshot(self, tickers: Iterable[str]) -> list[str]:
        """Return ``get_snapshot`` commands for these tickers (one per sid).

        Tickers whose subscription still awaits its reply are left out: their first
        snapshot is on its way anyway.
        """
        by_sub: dict[int, tuple[Sub, list[str]]] = {}
        for ticker in tickers:
            sub = self.sub_of.get((CHANNEL_BOOK, ticker))
            if sub is not None and sub.sid is not None:
                by_sub.setdefault(id(sub), (sub, []))[1].append(ticker)
        return [self._get_snapshot(sub, keys) for sub, keys in by_sub.values()]

    def _open(self, channel: str, tickers: list[str]) -> str:
        cmd_id = next(self._ids)
        sub = Sub(channel, cmd_id, tickers)
        self.pending[(cmd_id, channel)] = sub
        for ticker in tickers:
            self.sub_of[(channel, ticker)] = sub
        params = {"channels": [channel], "market_tickers": tickers}
        return _command(cmd_id, CMD_SUBSCRIBE, params)

    def _shrink(self, sub: Sub, gone: list[str]) -> str:
        if not sub.tickers:
            self.by_sid.pop(sub.sid or 0, None)
            return _command(next(self._ids), CMD_UNSUBSCRIBE, {"sids": [sub.sid]})
        params = {"sids": [sub.sid], "market_tickers": sorted(gone), "action": ACTION_DELETE}
        return _command(next(self._ids), CMD_UPDATE, params)

    def _get_snapshot(self, sub: Sub, tickers: list[str]) -> str:
        cmd_id = next(self._ids)
        self.resyncs[cmd_id] = sub
        self.stats["snapshot_requests"] += 1
        params = {"sids": [sub.sid], "market_tickers": sorted(tickers), "action": ACTION_SNAPSHOT}
        return _command(cmd_id, CMD_UPDATE, params)

    # -- replies and sequence -------------------------------------------------------------------

    def inspect(self, payload: bytes) -> Inspection | None:
        """Check one received frame; return what it asks of the connection, if anything."""
        try:
            env = _peek(payload)
        except DECODE_ERRORS:
            return None  # the normalizer counts it; the sequence cannot say anything
        out: Inspection | None = None
        if env.type == "subscribed" or env.type == "error":
            out = self._reply(env, payload)
        if env.sid is not None and env.seq is not None:
            gap = self._check_seq(env.sid, env.seq)
            if gap is not None:
                out = out or Inspection()
                out.gap = gap
                out.send.append(self._get_snapshot(gap[0], sorted(gap[0].tickers)))
        return out

    def _check_seq(self, sid: int, seq: int) -> tuple[Sub, int, int] | None:
        sub = self.by_sid.get(sid)
        if sub is None:
            return None
        last = sub.last_seq
        sub.last_seq = seq
        if last is None or seq == last + 1:
            return None
        self.stats["gaps" if sub.channel == CHANNEL_BOOK else f"gaps_{sub.channel}"] += 1
        if sub.channel != CHANNEL_BOOK or not sub.tickers:
            return None  # a lost trade is gone for good; no book to repair
        return sub, last + 1, seq

    def _reply(self, env: _Peek, payload: bytes) -> Inspection | None:
        try:
            body = _peek_reply(payload).msg or _PeekMsg()
        except DECODE_ERRORS:
            body = _PeekMsg()
        cmd_id = env.id if env.id is not None else -1
        if env.type == "subscribed":
            return self._subscribed(cmd_id, body)
        self.stats["errors"] += 1
        detail = {"kind": "auth" if body.code == ERR_AUTH else "command", "code": body.code}
        detail["message"] = body.msg[:200]
        if cmd_id in self.resyncs:
            self.resyncs.pop(cmd_id)
            return Inspection(reconnect="get_snapshot refused", error=detail)
        subs = [s for (i, _), s in self.pending.items() if i == cmd_id]
        out = Inspection(error=detail)
        for sub in subs:
            self.pending.pop((cmd_id, sub.channel))
            out.send += self._split(sub)
        return out

    def _subscribed(self, cmd_id: int, body: _PeekMsg) -> Inspection | None:
        sub = self.pending.pop((cmd_id, body.channel), None)
        if sub is None or body.sid is None:
            self.stats["unmatched_replies"] += 1
            return None
        sub.sid = body.sid
        self.by_sid[body.sid] = sub
        if not sub.dropped:
            return None
        gone, sub.dropped = sorted(sub.dropped), set()
        return Inspection(send=[self._shrink(sub, gone)])

    def _split(self, sub: Sub) -> list[str]:
        # A refused subscribe (e.g. one unknown ticker) is retried one ticker a command, so
        # one bad ticker cannot keep its neighbours dark; a single refused ticker is dropped.
        for ticker in sub.tickers:
            if self.sub_of.get((sub.channel, ticker)) is sub:
                del self.sub_of[(sub.channel, ticker)]
        if len(sub.tickers) <= 1:
            self.stats["refused_tickers"] += len(sub.tickers)
            return []
        return [self._open(sub.channel, [t]) for t in sorted(sub.tickers)]


def _command(cmd_id: int, cmd: str, params: dict[str, Any]) -> str:
    return _encode(Command(id=cmd_id, cmd=cmd, params=params)).decode()
