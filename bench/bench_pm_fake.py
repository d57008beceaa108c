"""The fake Polymarket's market channel: does it stream ``--rate`` steadily to many sockets?

For each rate, start ``pmtape fake-venue polymarket`` (its own process and core) over
``--markets`` markets (two assets each), take every asset from its Gamma listing, subscribe
them all over ``--sockets`` WebSockets of ``--per-socket`` assets (initial dump and the custom
feature on) with a deliberately cheap client, and print per rate, measured after
``--warmup`` s until ``--seconds``: what the fake generated, what arrived (messages: a
JSON-array frame counts its elements), frames and bytes per second, the largest gap between
consecutive frames on any one socket and across all sockets (a steady fake shows gaps near
its tick; an overloaded one sends bursts with long gaps), the fake's driver steps over 20 ms
and the CPU the fake's process used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from fakeproc import fake_polymarket

_EVENT = '"event_type"'


@dataclass
class _Socket:
    frames: int = 0
    msgs: int = 0
    chars: int = 0
    last: float = 0.0
    max_gap: float = 0.0
    frames_before: int = 0
    """Frames received before the measurement started."""


@dataclass
class _Window:
    since: float = float("inf")
    """Gaps between frames count from this instant (after the warm-up)."""
    last: float = 0.0
    """When a frame last arrived on any socket."""
    max_gap: float = 0.0
    """The largest gap between frames across all sockets."""


def _log(text: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _cpu_s(pid: int) -> float:
    """Return the CPU seconds (user + system) a process has used; NaN where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _tokens(http: aiohttp.ClientSession, gamma_url: str) -> list[str]:
    """Every token of every active, tradable market the fake's Gamma lists."""
    tokens: list[str] = []
    cursor = ""
    while True:
        params = {"limit": "100", "active": "true", "closed": "false"}
        if cursor:
            params["after_cursor"] = cursor
        async with http.get(f"{gamma_url}/markets/keyset", params=params) as resp:
            resp.raise_for_status()
            page: dict[str, Any] = await resp.json()
        for m in page["markets"]:
            if m.get("acceptingOrders") and m.get("enableOrderBook"):
                tokens.extend(json.loads(m["clobTokenIds"]))
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return tokens


async def _read(ws: aiohttp.ClientWebSocketResponse, sock: _Socket, win: _Window) -> None:
    clock = time.monotonic
    async for msg in ws:
        if msg.type is not aiohttp.WSMsgType.TEXT:
            continue
        data: str = msg.data
        now = clock()
        sock.frames += 1
        sock.msgs += data.count(_EVENT)
        sock.chars += len(data)
        if now > win.since:
            sock.max_gap = max(sock.max_gap, now - max(sock.last, win.since))
            win.max_gap = max(win.max_gap, now - max(win.last, win.since))
        sock.last = now
        win.last = now


async def _stats(http: aiohttp.ClientSession, debug_url: str) -> dict[str, Any]:
    async with http.get(f"{debug_url}/stats") as resp:
        out: dict[str, Any] = await resp.json()
        return out


def _totals(socks: list[_Socket]) -> tuple[int, int, int]:
    return (
        sum(s.frames for s in socks),
        sum(s.msgs for s in socks),
        sum(s.chars for s in socks),
    )


async def _measure(urls: dict[str, Any], pid: int, args: argparse.Namespace) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        started = time.monotonic()
        tokens = await _tokens(http, urls["gamma_url"])
        _log(f"{len(tokens):,} tokens listed in {time.monotonic() - started:.1f} s")
        per = args.per_socket
        chunks = [tokens[i : i + per] for i in range(0, len(tokens), per)][: args.sockets]
        started = time.monotonic()
        socks = [_Socket() for _ in chunks]
        win = _Window()
        sockets = []
        readers = []
        for chunk, sock in zip(chunks, socks, strict=True):
            ws = await http.ws_connect(urls["ws_url"], max_msg_size=0, autoping=True)
            sub = {
                "type": "market",
                "assets_ids": chunk,
                "initial_dump": True,
                "custom_feature_enabled": True,
            }
            await ws.send_str(json.dumps(sub))
            sockets.append(ws)
            readers.append(asyncio.create_task(_read(ws, sock, win)))
        _log(f"{len(sockets)} sockets subscribed in {time.monotonic() - started:.1f} s")
        await asyncio.sleep(args.warmup)
        fake_before = await _stats(http, urls["debug_url"])
        stats_before = time.monotonic()
        before = _totals(socks)
        for sock in socks:
            sock.frames_before = sock.frames
        cpu_before = _cpu_s(pid)
        t0 = win.since = time.monotonic()
        await asyncio.sleep(max(0.0, args.seconds - args.warmup))
        after = _totals(socks)
        end = time.monotonic()
        cpu_after = _cpu_s(pid)
        fake_after = await _stats(http, urls["debug_url"])
        stats_secs = time.monotonic() - stats_before
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for ws in sockets:
            await ws.close()
    secs = end - t0
    for sock in socks:  # a socket silent until the end has a gap up to the end
        sock.max_gap = max(sock.max_gap, end - max(sock.last, t0))
    win.max_gap = max(win.max_gap, end - max(win.last, t0))
    frames, msgs, chars = (a - b for a, b in zip(after, before, strict=True))

    def fake_delta(key: str) -> int:
        return int(fake_after.get(key, 0)) - int(fake_before.get(key, 0))

    return {
        "assets": sum(len(c) for c in chunks),
        "sockets": len(chunks),
        "generated_per_s": fake_delta("generated") / stats_secs,
        "msgs_per_s": msgs / secs,
        "frames_per_s": frames / secs,
        "mb_per_s": chars / secs / 1e6,
        "socket_gap_ms": max(s.max_gap for s in socks) * 1000,
        "any_gap_ms": win.max_gap * 1000,
        "silent_sockets": sum(1 for s in socks if s.frames == s.frames_before),
        "steps": fake_delta("driver_steps"),
        "slow_steps": fake_delta("driver_steps_over_20ms"),
        "step_max_ms": fake_after.get("driver_step_max_us", 0) / 1000,
        "cpu": (cpu_after - cpu_before) / secs,
    }


def main() -> None:
    """Print, per fake rate, what the fake generated and what its sockets delivered."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="10000,20000,30000", help="fake messages/s to try")
    parser.add_argument("--markets", type=int, default=2500, help="markets (2 assets each)")
    parser.add_argument("--sockets", type=int, default=20)
    parser.add_argument("--per-socket", type=int, default=250, help="assets per socket")
    parser.add_argument("--seconds", type=float, default=15.0, help="from subscribing to the end")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    args = parser.parse_args()
    for rate in (float(r) for r in args.rates.split(",")):
        with fake_polymarket(args.markets, rate) as (urls, pid):
            r = asyncio.run(_measure(urls, pid, args))
        # Steady: the rate is met, the stream as a whole never pauses 50 ms, and at most 1% of
        # the driver's steps (a scheduler hiccup on a busy box, not a backlog) exceed 20 ms.
        steady = (
            r["generated_per_s"] >= 0.97 * rate
            and r["any_gap_ms"] < 50
            and r["slow_steps"] <= 0.01 * r["steps"]
        )
        silent = f", {r['silent_sockets']} silent sockets" if r["silent_sockets"] else ""
        print(
            f"fake {rate:>8,.0f} msgs/s, {r['assets']:,} assets on {r['sockets']} sockets:"
            f" generated {r['generated_per_s']:>8,.0f}/s, received {r['msgs_per_s']:>8,.0f}"
            f" msgs/s in {r['frames_per_s']:>7,.0f} frames/s ({r['mb_per_s']:.1f} MB/s),"
            f" max gap {r['socket_gap_ms']:.0f} ms on a socket / {r['any_gap_ms']:.0f} ms"
            f" across all, driver steps {r['steps']:,} ({r['slow_steps']} > 20 ms, max since"
            f" start {r['step_max_ms']:.0f} ms), fake CPU {r['cpu']:.0%}{silent}"
            f" -> {'steady' if steady else 'NOT steady'}",
            flush=True,
        )


if __name__ == "__main__":
    main()
