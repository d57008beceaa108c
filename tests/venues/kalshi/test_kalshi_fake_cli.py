"""``fake-venue kalshi`` as a process: a line of URLs and a throwaway key, real answers, Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import aiohttp

from pmtape.venues.kalshi.auth import KalshiSigner

# The lead mounts these commands on `pmtape fake-venue`; mount them the same way here.
PMTAPE = [sys.executable, "-m", "pmtape"]


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as resp:  # loopback only
        return json.loads(resp.read())


async def _subscribe(url: str, signer: KalshiSigner, ticker: str) -> dict[str, object]:
    headers = signer.headers("GET", url)
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=headers) as ws:
        cmd = {"channels": ["orderbook_delta"], "market_tickers": [ticker]}
        await ws.send_json({"id": 1, "cmd": "subscribe", "params": cmd})
        reply: dict[str, object] = await ws.receive_json(timeout=5)
        return reply


def test_the_server_prints_urls_and_a_throwaway_key_then_stops_on_sigint() -> None:
    proc = subprocess.Popen(
        [*PMTAPE, "fake-venue", "kalshi", "--markets", "5", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["ws_url"].startswith("ws://127.0.0.1:")
        assert "venues.kalshi.rest_url=" + info["rest_url"] in info["set"]
        key_path = Path(info["private_key_path"])
        assert info["env"]["PMTAPE_VENUES__KALSHI__API_KEY_ID"] == info["api_key_id"]
        page = _get(info["rest_url"] + "/markets?status=open&limit=2")
        assert isinstance(page, dict)
        assert len(page["markets"]) == 2
        assert page["cursor"]
        ticker = page["markets"][0]["ticker"]
        books = _get(f"{info['rest_url']}/markets/orderbooks?tickers={ticker}")
        truth = _get(f"{info['debug_url']}/book?ticker={ticker}")
        assert isinstance(books, dict)
        assert isinstance(truth, dict)
        assert books["orderbooks"][0]["ticker"] == truth["ticker"] == ticker
        # The printed key is the one the fake accepts on the WebSocket.
        signer = KalshiSigner.from_files(info["api_key_id"], key_path)
        reply = asyncio.run(_subscribe(info["ws_url"], signer, ticker))
        assert reply["type"] == "subscribed"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert not key_path.exists()  # the throwaway key goes with the server
