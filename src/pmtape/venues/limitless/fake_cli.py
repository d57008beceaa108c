"""``pmtape fake-venue limitless``: the fake Limitless as a server you can point pmtape at."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pmtape.venues.fakecli import (
    DropEvery,
    Duration,
    Host,
    HttpError,
    Malformed,
    Markets,
    Port,
    Public,
    Rate,
    RollingPeriod,
    RollingShare,
    Seed,
    SilentAfter,
    SlowMs,
    TradeRatio,
    Unknown,
    check_knobs,
    opt,
    serve,
    venue_flags,
)
from pmtape.venues.limitless.fake.server import FakeLimitless, LimitlessFakeFaults


def command(
    host: Host = "127.0.0.1",
    public: Public = False,
    port: Port = 0,
    markets: Markets = 40,
    seed: Seed = 7,
    rate: Rate = 200.0,
    trade_ratio: TradeRatio = 0.05,
    rolling_share: RollingShare = 0.2,
    rolling_period_s: RollingPeriod = 900,
    drop_every: DropEvery = 0.0,
    silent_after: SilentAfter = 0.0,
    malformed_prob: Malformed = 0.0,
    unknown_prob: Unknown = 0.0,
    oracle_prob: Annotated[float, opt("Chance per tick of oraclePriceData noise, 0-1.")] = 0.0,
    duplicate_prob: Annotated[float, opt("Chance of an orderbookUpdate sent twice, 0-1.")] = 0.0,
    http_error_prob: HttpError = 0.0,
    retry_after: Annotated[
        float | None, opt("Retry-After seconds sent with a 429 (omit: none).")
    ] = None,
    slow_ms: SlowMs = 0.0,
    ping_interval_ms: Annotated[
        int, typer.Option(min=100, help="Engine.IO pingInterval.")
    ] = 25_000,
    ping_timeout_ms: Annotated[int, typer.Option(min=100, help="Engine.IO pingTimeout.")] = 60_000,
    duration: Duration = None,
) -> None:
    """Serve a fake Limitless: REST market data and the Socket.IO market feed.

    Prints one JSON line with its URLs (rest_url, ws_url, debug_url), the matching config keys
    (set) and the --set flags that enable the venue and point pmtape at the fake (flags), then
    serves until Ctrl-C.
    """
    check_knobs(
        host=host,
        public=public,
        port=port,
        shares={
            "trade_ratio": trade_ratio,
            "rolling_share": rolling_share,
            "malformed_prob": malformed_prob,
            "unknown_prob": unknown_prob,
            "oracle_prob": oracle_prob,
            "duplicate_prob": duplicate_prob,
            "http_error_prob": http_error_prob,
        },
        non_negative={
            "drop_every": drop_every,
            "silent_after": silent_after,
            "retry_after": retry_after,
            "slow_ms": slow_ms,
        },
    )
    faults = LimitlessFakeFaults(
        drop_every_s=drop_every,
        malformed_prob=malformed_prob,
        unknown_prob=unknown_prob,
        oracle_prob=oracle_prob,
        duplicate_prob=duplicate_prob,
        http_error_prob=http_error_prob,
        retry_after_s=retry_after,
        slow_ms=slow_ms,
        ping_interval_ms=ping_interval_ms,
        ping_timeout_ms=ping_timeout_ms,
    )
    fake = FakeLimitless(
        markets=markets,
        seed=seed,
        rate=rate,
        trade_ratio=trade_ratio,
        rolling_share=rolling_share,
        rolling_period_s=rolling_period_s,
        host=host,
        port=port,
        faults=faults,
    )

    def describe() -> dict[str, Any]:
        return {**fake.urls, **venue_flags(fake.venue, fake.config_overrides())}

    serve(fake, describe, silent_after, faults, duration)
