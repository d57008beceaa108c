"""The fake Polymarket's knobs: the faults (switchable while it runs) and its command's options."""

from __future__ import annotations

from dataclasses import dataclass, replace

from pmtape.venues.base import Bound, FakeCommand, Knob
from pmtape.venues.fake.options import (
    DROP_EVERY,
    DURATION,
    HOST,
    HTTP_ERROR,
    MALFORMED,
    MARKETS,
    PORT,
    PUBLIC,
    RATE,
    ROLLING_PERIOD,
    ROLLING_SHARE,
    SEED,
    SILENT_AFTER,
    SLOW_MS,
    TRADE_RATIO,
    UNKNOWN,
    VIOLATION_PROB,
    violation_knob,
)
from pmtape.venues.polymarket.fake.violations import VIOLATIONS


@dataclass
class FakeFaults:
    """Faults of the fake Polymarket; tests flip them at run time."""

    drop_every_s: float = 0.0
    """Close every market-channel socket this often (0: never)."""
    silent: bool = False
    """Send no data at all while still answering PING with PONG."""
    malformed_prob: float = 0.0
    """Chance that a data frame is followed by a truncated (malformed JSON) one."""
    unknown_prob: float = 0.0
    """Chance per tick and socket of a frame with an unknown ``event_type``."""
    http_error_prob: float = 0.0
    """Chance that a REST request is answered with one of ``http_error_statuses``."""
    http_error_statuses: tuple[int, ...] = (429, 500)
    retry_after_s: float | None = 1.0
    """``Retry-After`` sent with those errors (None: no header)."""
    slow_ms: float = 0.0
    """Delay every REST answer this long (the venue throttles by delay)."""
    max_assets_per_conn: int = 500
    """Tokens past this many on one socket are accepted and silently never served."""
    missing_hash_prob: float = 0.1
    """Chance that a ``book`` comes without ``hash``."""
    bad_hash_prob: float = 0.0
    """Chance that a ``book`` (market channel, ``/book``, ``/books``) has a wrong ``hash``."""
    violation: str = ""
    """A ``violations.VIOLATIONS`` kind served in ``book`` messages ("": none)."""
    violation_prob: float = 0.0
    """Chance that a ``book`` breaks the ``violation`` invariant."""
    dynamic_ops: bool = True
    """Honour ``operation: subscribe/unsubscribe`` (False: ignore them, as older servers)."""
    dump_on_operation: bool = True
    """Send books for tokens added with ``operation: subscribe`` (False: only on connect)."""
    keyset: bool = True
    """Serve ``/markets/keyset`` (False: 404, an older deployment)."""
    legacy_max_offset: int = 10_000
    """Legacy ``/markets`` answers 422 past this offset."""
    listing_lag_s: float = 0.0
    """Gamma lists a market only this long after it opened (the channel's ``new_market``
    comes at once; the real Gamma lags it)."""
    v1_max_offset: int = 3_000
    """Data API v1 ``/trades`` answers 400 past this offset."""
    edge_repeat_prob: float = 0.0
    """Chance that a v2 trades page's ``next_cursor`` points back, repeating the page's edge."""
    bad_page_prob: float = 0.0
    """Chance that a Data API trades page is served bad (one of ``bad_page_kinds``)."""
    bad_page_kinds: tuple[str, ...] = ("malformed", "truncated", "wrong_type")
    data_trades_limit: tuple[int, float] | None = None
    """(count, window_s): Data API trades answer 429 past ``count`` in any window (None: off)."""


COMMAND = FakeCommand(
    help="""Serve a fake Polymarket: Gamma, CLOB REST, Data API and the market channel.

Prints one JSON line with its URLs (gamma_url, clob_url, data_url, ws_url, debug_url),
the matching config keys (set) and the --set flags that enable the venue and point pmtape
at the fake (flags), then serves until Ctrl-C.""",
    knobs=(
        HOST,
        PUBLIC,
        PORT,
        replace(MARKETS, help="Binary markets (2 tokens each)."),
        SEED,
        replace(RATE, help="Messages per second."),
        TRADE_RATIO,
        ROLLING_SHARE,
        replace(ROLLING_PERIOD, help="Series period."),
        DROP_EVERY,
        replace(
            SILENT_AFTER,
            help="Stop sending data (still answering PONG) after this many s (0: never).",
        ),
        MALFORMED,
        replace(UNKNOWN, help="Chance per tick of an unknown event type, 0-1."),
        replace(HTTP_ERROR, help="Chance of a 429/500 on REST, 0-1."),
        Knob(
            "retry_after",
            float,
            1.0,
            "Retry-After seconds sent with those errors.",
            bound=Bound.NON_NEGATIVE,
        ),
        replace(SLOW_MS, help="Delay every REST answer this long, ms."),
        Knob(
            "max_assets_per_conn",
            int,
            500,
            "Tokens served per socket; the rest silently nothing.",
            min=1,
        ),
        Knob(
            "bad_hash_prob",
            float,
            0.0,
            "Chance that a book (WS or REST) carries a wrong hash, 0-1.",
            bound=Bound.SHARE,
        ),
        violation_knob(VIOLATIONS),
        VIOLATION_PROB,
        Knob("no_keyset", bool, False, "Answer /markets/keyset with 404 (older Gamma)."),
        Knob(
            "listing_lag",
            float,
            0.0,
            "Gamma lists a new market only this many s after new_market announced it.",
            bound=Bound.NON_NEGATIVE,
        ),
        Knob(
            "history_trades",
            int,
            200,
            "Mean historical trades per market on the Data API (0: none).",
            min=0,
        ),
        Knob(
            "edge_repeat_prob",
            float,
            0.0,
            "Chance that a v2 trades page repeats the previous page's edge, 0-1.",
            bound=Bound.SHARE,
        ),
        Knob(
            "data_trades_limit",
            int,
            0,
            "Answer Data API trades with 429 past this many requests in any 10 s (0: off).",
            min=0,
        ),
        Knob(
            "bad_page_prob",
            float,
            0.0,
            "Chance of a malformed/truncated/wrong-typed Data API trades page, 0-1.",
            bound=Bound.SHARE,
        ),
        DURATION,
    ),
    launch="pmtape.venues.polymarket.fake.server:launch",
)
"""``pmtape fake-venue polymarket``."""
