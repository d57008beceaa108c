"""``pmtape fake-venue kalshi``: the fake Kalshi as a server you can point pmtape at."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
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
from pmtape.venues.kalshi.auth import generate_key_pair, load_public_key
from pmtape.venues.kalshi.fake.server import FakeKalshi, KalshiFakeFaults

KEY_ID_ENV = "PMTAPE_VENUES__KALSHI__API_KEY_ID"


def command(
    host: Host = "127.0.0.1",
    public: Public = False,
    port: Port = 0,
    markets: Markets = 40,
    seed: Seed = 7,
    rate: Rate = 200.0,
    trade_ratio: TradeRatio = 0.05,
    rolling_share: RollingShare = 0.05,
    rolling_period_s: RollingPeriod = 900,
    drop_every: DropEvery = 0.0,
    silent_after: SilentAfter = 0.0,
    malformed_prob: Malformed = 0.0,
    unknown_prob: Unknown = 0.0,
    http_error_prob: HttpError = 0.0,
    slow_ms: SlowMs = 0.0,
    gap_every: Annotated[
        int, typer.Option(min=0, help="Lose every N-th delta of each subscription (0: never).")
    ] = 0,
    refuse_snapshot: Annotated[bool, opt("Refuse get_snapshot (forces reconnects).")] = False,
    ping_interval: Annotated[float, typer.Option(min=0.1, help="Server ping cadence, s.")] = 10.0,
    public_key: Annotated[
        Path | None, opt("PEM public key accepted on the WebSocket (default: a throwaway pair).")
    ] = None,
    key_id: Annotated[str | None, opt("Key id of --public-key (default: random).")] = None,
    duration: Duration = None,
) -> None:
    """Serve a fake Kalshi: REST market data and the signed WebSocket.

    Prints one JSON line with its URLs (rest_url, ws_url, debug_url), the key id and — for a
    throwaway key pair — the private key's path, the matching config keys (set), the --set
    flags that enable the venue and point pmtape at the fake (flags) and the env that adds the
    key id (the WebSocket; without it pmtape polls REST), then serves until Ctrl-C.
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
        non_negative={"drop_every": drop_every, "silent_after": silent_after, "slow_ms": slow_ms},
    )
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
            accepted = load_public_key(public_key)
        else:
            private_path = Path(tmp) / "throwaway-kalshi-key.pem"
            accepted = generate_key_pair(private_path)
        fake = FakeKalshi(
            markets=markets,
            seed=seed,
            rate=rate,
            trade_ratio=trade_ratio,
            rolling_share=rolling_share,
            rolling_period_s=rolling_period_s,
            host=host,
            port=port,
            faults=faults,
            keys={kid: accepted},
        )

        def describe() -> dict[str, Any]:
            overrides = fake.config_overrides()
            out: dict[str, Any] = {**fake.urls, "api_key_id": kid, "env": {KEY_ID_ENV: kid}}
            if private_path is not None:
                out["private_key_path"] = str(private_path)
                overrides[f"venues.{fake.venue}.private_key_path"] = str(private_path)
            return {**out, **venue_flags(fake.venue, overrides)}

        serve(fake, describe, silent_after, faults, duration)
