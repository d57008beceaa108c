"""``pmtape fake-venue polymarket``: the fake Polymarket as a server you can point pmtape at."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pmtape.venues.fakecli import (
    DropEvery,
    Duration,
    Host,
    Malformed,
    Port,
    Public,
    RollingShare,
    Seed,
    TradeRatio,
    check_knobs,
    opt,
    serve,
    venue_flags,
)


def command(
    host: Host = "127.0.0.1",
    public: Public = False,
    port: Port = 0,
    markets: Annotated[int, typer.Option(min=1, help="Binary markets (2 tokens each).")] = 40,
    seed: Seed = 7,
    rate: Annotated[float, typer.Option(min=0.1, help="Messages per second.")] = 200.0,
    trade_ratio: TradeRatio = 0.05,
    rolling_share: RollingShare = 0.05,
    rolling_period_s: Annotated[int, typer.Option(min=1, help="Series period.")] = 900,
    drop_every: DropEvery = 0.0,
    silent_after: Annotated[
        float, opt("Stop sending data (still answering PONG) after this many s (0: never).")
    ] = 0.0,
    malformed_prob: Malformed = 0.0,
    unknown_prob: Annotated[float, opt("Chance per tick of an unknown event type, 0-1.")] = 0.0,
    http_error_prob: Annotated[float, opt("Chance of a 429/500 on REST, 0-1.")] = 0.0,
    retry_after: Annotated[float, opt("Retry-After seconds sent with those errors.")] = 1.0,
    slow_ms: Annotated[float, opt("Delay every REST answer this long, ms.")] = 0.0,
    max_assets_per_conn: Annotated[
        int, typer.Option(min=1, help="Tokens served per socket; the rest silently nothing.")
    ] = 500,
    no_keyset: Annotated[bool, opt("Answer /markets/keyset with 404 (older Gamma).")] = False,
    duration: Duration = None,
) -> None:
    """Serve a fake Polymarket: Gamma, CLOB REST, Data API and the market channel.

    Prints one JSON line with its URLs (gamma_url, clob_url, data_url, ws_url, debug_url),
    the matching config keys (set) and the --set flags that enable the venue and point pmtape
    at the fake (flags), then serves until Ctrl-C.
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
            "http_error_prob": http_error_prob,
        },
        non_negative={
            "drop_every": drop_every,
            "silent_after": silent_after,
            "retry_after": retry_after,
            "slow_ms": slow_ms,
        },
    )
    # Imported here so that `pmtape --help` does not load the fake's server stack.
    from pmtape.venues.polymarket.fake.server import FakeFaults, FakePolymarket

    faults = FakeFaults(
        drop_every_s=drop_every,
        malformed_prob=malformed_prob,
        unknown_prob=unknown_prob,
        http_error_prob=http_error_prob,
        retry_after_s=retry_after,
        slow_ms=slow_ms,
        max_assets_per_conn=max_assets_per_conn,
        keyset=not no_keyset,
    )
    fake = FakePolymarket(
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
