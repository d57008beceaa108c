"""``fake-venue limitless`` as a process: a line of URLs, real answers, clean Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.venues.kalshi.test_kalshi_fake_cli import PMTAPE


def _get(url: str, agent: str = "pmtape-test") -> object:
    request = urllib.request.Request(url, headers={"User-Agent": agent})
    with urllib.request.urlopen(request, timeout=5) as resp:  # loopback only
        return json.loads(resp.read())


def test_the_server_prints_its_urls_serves_the_venue_and_stops_on_sigint() -> None:
    proc = subprocess.Popen(
        [*PMTAPE, "fake-venue", "limitless", "--markets", "6", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        urls = json.loads(proc.stdout.readline())
        assert urls["ws_url"].startswith("ws://127.0.0.1:")
        assert "venues.limitless.rest_url=" + urls["rest_url"] in urls["set"]
        page = _get(urls["rest_url"] + "/markets/active?page=1&limit=25")
        assert isinstance(page, dict)
        assert page["totalMarketsCount"] >= 6
        slug = next(m["slug"] for m in page["data"] if m["tokens"])
        book = _get(f"{urls['rest_url']}/markets/{slug}/orderbook")
        truth = _get(f"{urls['debug_url']}/book?slug={slug}")
        assert isinstance(book, dict)
        assert isinstance(truth, dict)
        assert [b["size"] for b in book["bids"]] == [s for _, s in truth["bids"]]  # raw 1e6
        with pytest.raises(urllib.error.HTTPError) as info:
            _get(urls["rest_url"] + "/markets/active", agent="Python-urllib/3.11")
        assert info.value.code == 403
        info.value.close()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
