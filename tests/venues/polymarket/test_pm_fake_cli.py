"""``fake-venue polymarket`` as a process: a line of URLs, real answers, clean Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request

from pmtape.venues.polymarket.discovery import json_strings


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as resp:  # loopback only
        return json.loads(resp.read())


def test_the_server_prints_its_urls_serves_the_venue_and_stops_on_sigint() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pmtape", "fake-venue", "polymarket", "--markets", "6"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        urls = json.loads(proc.stdout.readline())
        assert urls["ws_url"].startswith("ws://127.0.0.1:")
        assert "venues.polymarket.ws_url=" + urls["ws_url"] in urls["set"]
        page = _get(urls["gamma_url"] + "/markets/keyset?limit=100&closed=false")
        assert isinstance(page, dict)
        market = page["markets"][0]
        token = json_strings(market["clobTokenIds"])[0]
        book = _get(f"{urls['clob_url']}/book?token_id={token}")
        truth = _get(f"{urls['debug_url']}/book?token_id={token}")
        assert isinstance(book, dict)
        assert isinstance(truth, dict)
        assert book["asset_id"] == truth["asset_id"] == token
        assert truth["bids"]
        assert truth["asks"]
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
