"""``pmtape fake-venue kalshi|limitless``: local fakes of Kalshi and Limitless, real protocols.

The commands are plain functions; the CLI mounts them on the ``fake-venue`` sub-app beside
the Polymarket one (``fake_app.command("kalshi")(kalshi)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from pmtape.cli.common import cli_errors, echo_json, run_until_signal
from pmtape.venues.kalshi.auth import generate_key_pair, load_public_key
from pmtape.venues.kalshi.fake import FakeKalshi, KalshiFakeFaults
from pmtape.venues.limitless.fake import FakeLimitless, LimitlessFakeFaults

KEY_ID_ENV = "PMTAPE_VENUES__KALSHI__API_KEY_ID"


def _opt(help_text: str) -> Any:
    return typer.Option(help=help_text)


Host = Annotated[str, _opt("Address to bind (keep it on loopback).")]
Port = Annotated[int, _opt("Port (0: any free one; the URLs are printed).")]
Markets = Annotated[int, typer.Option(min=1, help="Markets (one book each).")]
Seed = Annotated[int, _opt("Seed of the synthetic market.")]
Rate = Annotated[float, typer.Option(min=0.1, help="Book changes per second.")]
TradeRatio = Annotated[float, typer.Option(min=0, max=1, help="Share of trades.")]
RollingShare = Annotated[
    float, typer.Option(min=0, max=1, help="Share of short up/down series markets.")
]
RollingPeriod = Annotated[int, typer.Option(min=1, help="Series period, seconds.")]
DropEvery = Annotated[float, _opt("Close every socket this often, seconds (0: never).")]
SilentAfter = Annotated[float, _opt("Stop sending data after this many seconds (0: never).")]
Malformed = Annotated[float, _opt("Chance of a malformed frame after a frame.")]
Unknown = Annotated[float, _opt("Chance per tick of a message type the client does not know.")]
HttpError = Annotated[float, _opt("Chance of a 429/503 on REST (and, Kalshi, on upgrades).")]
SlowMs = Annotated[float, _opt("Delay every REST answer this long (a stalled venue).")]
PingMs = Annotated[int, typer.Option(min=100, help="Engine.IO pingInterval, ms.")]
PongMs = Annotated[int, typer.Option(min=100, help="Engine.IO pingTimeout, ms.")]
Duration = Annotated[float | None, typer.Option(min=0.1, help="Stop after this many seconds.")]


@cli_errors
def kalshi(
    host: Host = "127.0.0.1",
    port: Port = 0,
    markets: Markets = 40,
    seed: Seed = 7,
    rate: Rate = 200.0,
    trade_ratio: TradeRatio = 0.05,
    rolling_share: RollingShare = 0.05,
    rolling_period_secs: RollingPeriod = 900,
    drop_every: DropEvery = 0.0,
    silent_after: SilentAfter = 0.0,
    malformed_prob: Malformed = 0.0,
    unknown_prob: Unknown = 0.0,
    http_error_prob: HttpError = 0.0,
    slow_ms: SlowMs = 0.0,
    gap_every: Annotated[
        int, typer.Option(min=0, help="Lose every N-th delta of each subscription (0: never).")
    ] = 0,
    refuse_snapshot: Annotated[bool, _opt("Refuse get_snapshot (forces reconnects).")] = False,
    ping_interval: Annotated[float, typer.Option(min=0.1, help="Server ping cadence, s.")] = 10.0,
    public_key: Annotated[
        Path | None, _opt("PEM public key accepted on the WebSocket (default: a throwaway pair).")
    ] = None,
    key_id: Annotated[str | None, _opt("Key id of --public-key (default: random).")] = None,
    duration: Duration = None,
) -> None:
    """Serve a fake Kalshi: REST market data and the signed WebSocket.

    Prints one JSON line with its URLs (rest_url, ws_url, debug_url), the key id and — for a
    throwaway key pair — the private key's path, and the matching --set flags and env, then
    serves until Ctrl-C.
    """
    faults = KalshiFakeFaults(
        drop_every_s=drop_every,
        malformed_prob=malformed_prob,
        unknown_prob=unknown_prob,
        gap_every=gap_every,
        refuse_snapshot=refuse_snapshot,
        http_error_prob=http_error_prob,
        slow_ms=slow_ms,
        ping_interval_s=ping_interval,
    )
    kid = key_id or secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="pmtape-fake-kalshi-") as tmp:
        private_path: Path | None = None
        if public_key is not None:
            public = load_public_key(public_key)
        else:
            private_path = Path(tmp) / "throwaway-kalshi-key.pem"
            public = generate_key_pair(private_path)
        fake = FakeKalshi(
            markets=markets,
            seed=seed,
            rate=rate,
            trade_ratio=trade_ratio,
            rolling_share=rolling_share,
            rolling_period_secs=rolling_period_secs,
            host=host,
            port=port,
            faults=faults,
            keys={kid: public},
        )

        def describe() -> dict[str, Any]:
            sets = [f"{k}={v}" for k, v in fake.config_overrides().items()]
            out: dict[str, Any] = {**fake.urls, "api_key_id": kid, "env": {KEY_ID_ENV: kid}}
            if private_path is not None:
                out["private_key_path"] = str(private_path)
                sets.append(f"venues.kalshi.private_key_path={private_path}")
            return {**out, "set": sets}

        _serve(fake, describe, silent_after, faults, duration)


@cli_errors
def limitless(
    host: Host = "127.0.0.1",
    port: Port = 0,
    markets: Markets = 40,
    seed: Seed = 7,
    rate: Rate = 200.0,
    trade_ratio: TradeRatio = 0.05,
    rolling_share: RollingShare = 0.2,
    rolling_period_secs: RollingPeriod = 900,
    drop_every: DropEvery = 0.0,
    silent_after: SilentAfter = 0.0,
    malformed_prob: Malformed = 0.0,
    unknown_prob: Unknown = 0.0,
    oracle_prob: Annotated[float, _opt("Chance per tick of oraclePriceData noise.")] = 0.0,
    duplicate_prob: Annotated[float, _opt("Chance of an orderbookUpdate sent twice.")] = 0.0,
    http_error_prob: HttpError = 0.0,
    retry_after: Annotated[
        float | None, _opt("Retry-After seconds sent with a 429 (omit: none).")
    ] = None,
    slow_ms: SlowMs = 0.0,
    ping_interval_ms: Annotated[
        int, typer.Option(min=100, help="Engine.IO pingInterval.")
    ] = 25_000,
    ping_timeout_ms: Annotated[int, typer.Option(min=100, help="Engine.IO pingTimeout.")] = 60_000,
    duration: Duration = None,
) -> None:
    """Serve a fake Limitless: REST market data and the Socket.IO market feed.

    Prints one JSON line with its URLs (rest_url, ws_url, debug_url) and the matching --set
    flags, then serves until Ctrl-C.
    """
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
        rolling_period_secs=rolling_period_secs,
        host=host,
        port=port,
        faults=faults,
    )

    def describe() -> dict[str, Any]:
        sets = [f"{k}={v}" for k, v in fake.config_overrides().items()]
        return {**fake.urls, "set": sets}

    _serve(fake, describe, silent_after, faults, duration)


def _serve(
    fake: FakeKalshi | FakeLimitless,
    describe: Callable[[], dict[str, Any]],
    silent_after: float,
    faults: KalshiFakeFaults | LimitlessFakeFaults,
    duration: float | None,
) -> None:
    async def main(stop: asyncio.Event) -> None:
        await fake.start()
        try:
            echo_json(describe())
            if silent_after > 0:
                asyncio.get_running_loop().call_later(silent_after, _silence, faults)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=duration)
        finally:
            await fake.stop()

    run_until_signal(main)


def _silence(faults: KalshiFakeFaults | LimitlessFakeFaults) -> None:
    faults.silent = True
