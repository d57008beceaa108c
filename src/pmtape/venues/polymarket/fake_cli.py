"""``pmtape fake-venue polymarket``: the fake Polymarket as a server you can point pmtape at."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from pmtape.ops.runner import echo_json, run_until_signal
from pmtape.venues.fakecli import opt
from pmtape.venues.polymarket.fake_faults import FakeFaults


def command(
    host: Annotated[str, opt("Address to bind (keep it on loopback).")] = "127.0.0.1",
    port: Annotated[int, opt("Port (0: any free one; the URLs are printed).")] = 0,
    markets: Annotated[int, typer.Option(min=1, help="Binary markets (2 tokens each).")] = 40,
    seed: Annotated[int, opt("Seed of the synthetic market.")] = 7,
    rate: Annotated[float, typer.Option(min=0.1, help="Messages per second.")] = 200.0,
    trade_ratio: Annotated[float, typer.Option(min=0, max=1, help="Share of trades.")] = 0.05,
    rolling_share: Annotated[
        float, typer.Option(min=0, max=1, help="Share of short up/down series markets.")
    ] = 0.05,
    rolling_period_s: Annotated[int, typer.Option(min=1, help="Series period.")] = 900,
    drop_every: Annotated[float, opt("Close every socket this often, seconds (0: never).")] = 0.0,
    silent_after: Annotated[
        float, opt("Stop sending data (still answering PONG) after this many s (0: never).")
    ] = 0.0,
    malformed_prob: Annotated[float, opt("Chance of a malformed frame after a frame.")] = 0.0,
    unknown_prob: Annotated[float, opt("Chance per tick of an unknown event type.")] = 0.0,
    http_error_prob: Annotated[float, opt("Chance of a 429/500 on REST.")] = 0.0,
    retry_after: Annotated[float, opt("Retry-After seconds sent with those errors.")] = 1.0,
    slow_ms: Annotated[float, opt("Delay every REST answer this long.")] = 0.0,
    max_assets_per_conn: Annotated[
        int, typer.Option(min=1, help="Tokens served per socket; the rest silently nothing.")
    ] = 500,
    no_keyset: Annotated[bool, opt("Answer /markets/keyset with 404 (older Gamma).")] = False,
    duration: Annotated[
        float | None, typer.Option(min=0.1, help="Stop after this many seconds.")
    ] = None,
) -> None:
    """Serve a fake Polymarket: Gamma, CLOB REST, Data API and the market channel.

    Prints one JSON line with its URLs (gamma_url, clob_url, data_url, ws_url, debug_url)
    and the matching --set flags, then serves until Ctrl-C.
    """
    # Imported here so that `pmtape --help` does not load the fake's server stack.
    from pmtape.venues.polymarket.fake import FakeFaults, FakePolymarket

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

    async def main(stop: asyncio.Event) -> None:
        async with fake:
            sets = [f"{k}={v}" for k, v in fake.config_overrides().items()]
            echo_json({**fake.urls, "set": sets})
            waiter = asyncio.create_task(stop.wait())
            if silent_after > 0:
                asyncio.get_running_loop().call_later(silent_after, _silence, faults)
            try:
                await asyncio.wait_for(waiter, timeout=duration)
            except TimeoutError:
                pass

    run_until_signal(main)


def _silence(faults: FakeFaults) -> None:
    faults.silent = True
