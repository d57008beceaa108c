"""HTTP client: raw bodies with stamps, one error tree, a venue cooldown that stops storms."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import pytest
from aiohttp import web

from pmtape.core.errors import (
    VenueAuthError,
    VenueProtocolError,
    VenueRateLimited,
    VenueTimeout,
    VenueUnavailable,
)
from pmtape.net.backoff import Backoff
from pmtape.net.http import Cooldown, HttpClient, HttpStatusError, classify, retry_after_s
from pmtape.net.ratelimit import RateLimiter
from tests.net.server import free_port, serve


def _app(hits: Counter[str]) -> web.Application:
    async def ok(request: web.Request) -> web.Response:
        hits["ok"] += 1
        return web.json_response({"q": dict(request.query)})

    async def echo(request: web.Request) -> web.Response:
        hits["echo"] += 1
        return web.Response(body=await request.read(), content_type="application/json")

    async def limited(request: web.Request) -> web.Response:
        hits["limited"] += 1
        return web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": "0.4"})

    async def broken(request: web.Request) -> web.Response:
        hits["broken"] += 1
        return web.json_response({"error": "boom"}, status=500)

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"error": "nope"}, status=int(request.match_info["code"]))

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.5)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_post("/echo", echo)
    app.router.add_get("/limited", limited)
    app.router.add_get("/broken", broken)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/slow", slow)
    return app


@pytest.mark.asyncio
async def test_returns_the_raw_body_with_a_receive_stamp_and_how_it_was_fetched() -> None:
    hits: Counter[str] = Counter()
    async with serve(_app(hits)) as base, HttpClient("v") as http:
        before = time.time_ns()
        body, ts, meta = await http.get(f"{base}/ok", {"a": 1, "flag": True, "ids": ["x", "y"]})
        assert json.loads(body)["q"] == {"a": "1", "flag": "true", "ids": "x"}
        assert before <= ts <= time.time_ns()
        assert (meta.method, meta.status, meta.url) == ("GET", 200, f"{base}/ok")
        assert meta.params == {"a": 1, "flag": True, "ids": ["x", "y"]}
        assert meta.latency_ms >= 0
        posted, _, pmeta = await http.post(f"{base}/echo", b'[{"token_id":"1"}]', items=1)
        assert posted == b'[{"token_id":"1"}]'
        assert (pmeta.method, pmeta.params) == ("POST", {"items": 1})


@pytest.mark.asyncio
async def test_429_with_retry_after_cools_the_venue_down_instead_of_a_storm() -> None:
    hits: Counter[str] = Counter()
    async with serve(_app(hits)) as base, HttpClient("v") as http:
        with pytest.raises(VenueRateLimited) as info:
            await http.get(f"{base}/limited")
        assert info.value.retry_after_s == pytest.approx(0.4, abs=0.05)
        started = time.monotonic()
        for _ in range(3):
            with pytest.raises(VenueRateLimited):
                await http.get(f"{base}/limited")
        # Each try first waited out the 0.4 s cooldown: 4 requests in >= 1.2 s, no storm.
        assert hits["limited"] == 4
        assert time.monotonic() - started >= 1.15
        assert http.stats["cooldown_waits"] >= 1


@pytest.mark.asyncio
async def test_the_cooldown_is_shared_by_every_client_of_the_venue() -> None:
    hits: Counter[str] = Counter()
    cooldown = Cooldown()
    async with serve(_app(hits)) as base:
        async with HttpClient("v", cooldown=cooldown) as first:
            with pytest.raises(VenueRateLimited):
                await first.get(f"{base}/limited")
        async with HttpClient("v", cooldown=cooldown, wait_cooldown=False) as second:
            with pytest.raises(VenueRateLimited, match="cooling down"):
                await second.get(f"{base}/ok")
        assert hits["ok"] == 0


@pytest.mark.asyncio
async def test_5xx_backs_off_the_venue_with_growing_jittered_delays() -> None:
    hits: Counter[str] = Counter()
    clock_backoff = Backoff(0.05, 0.4, reset_after_s=0.0)
    cooldown = Cooldown(clock_backoff)
    async with serve(_app(hits)) as base, HttpClient("v", cooldown=cooldown) as http:
        for _ in range(4):
            with pytest.raises(VenueUnavailable):
                await http.get(f"{base}/broken")
        assert cooldown.trips == 4
        assert clock_backoff.attempt == 4
        await http.get(f"{base}/ok")  # success: the next trip starts from the base again
        assert clock_backoff.attempt == 0


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("code", "error"),
    [(400, HttpStatusError), (404, HttpStatusError), (422, HttpStatusError), (401, VenueAuthError)],
)
async def test_client_errors_map_to_the_error_tree(code: int, error: type[Exception]) -> None:
    async with serve(_app(Counter())) as base, HttpClient("v") as http:
        with pytest.raises(error) as info:
            await http.get(f"{base}/status/{code}")
        if isinstance(info.value, HttpStatusError):
            assert info.value.status == code
            assert isinstance(info.value, VenueProtocolError)
        assert http.cooldown.remaining() == 0


@pytest.mark.asyncio
async def test_timeouts_and_refused_connections_are_venue_errors() -> None:
    async with serve(_app(Counter())) as base, HttpClient("v", timeout_s=0.1) as http:
        with pytest.raises(VenueTimeout):
            await http.get(f"{base}/slow")
    async with HttpClient("v", timeout_s=1.0) as http:
        with pytest.raises(VenueUnavailable):
            await http.get(f"http://127.0.0.1:{free_port()}/ok")
        assert http.cooldown.trips == 1


@pytest.mark.asyncio
async def test_token_buckets_pace_requests() -> None:
    hits: Counter[str] = Counter()
    limiter = RateLimiter({"global": 2}, 0.1)  # 20 requests/s after a burst of 2
    async with serve(_app(hits)) as base, HttpClient("v", limiter=limiter) as http:
        started = time.monotonic()
        await asyncio.gather(*(http.get(f"{base}/ok", buckets=["global"]) for _ in range(6)))
        assert time.monotonic() - started >= 0.19
        assert hits["ok"] == 6


def test_retry_after_parses_seconds_and_http_dates() -> None:
    assert retry_after_s("3") == 3.0
    assert retry_after_s("0.5") == 0.5
    assert retry_after_s(None) is None
    assert retry_after_s("soon") is None
    now = 1_800_000_000.0
    assert retry_after_s("Fri, 15 Jan 2027 08:00:10 GMT", now_s=1_800_000_000.0) is not None
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 30))
    assert retry_after_s(date, now_s=now) == pytest.approx(30.0)


def test_classify_decides_retry_skip_or_fatal() -> None:
    assert classify(VenueRateLimited("x", 1.0)) == "retry"
    assert classify(VenueTimeout("x")) == "retry"
    assert classify(HttpStatusError("x", 404, b"")) == "skip"
    assert classify(VenueAuthError("x")) == "fatal"
