"""An HTTP error answer is never lost: its body, stamp and status ride on the error to the sink."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from pmtape.core.errors import VenueAuthError, VenueRateLimited, VenueUnavailable
from pmtape.net.http import HttpClient, HttpStatusError, error_answer
from pmtape.net.restpoll import PollSettings, RestPollSession
from pmtape.net.session import HttpMeta
from tests.helpers import eventually
from tests.net.server import serve


def _app() -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        headers = {"Retry-After": "0.05"} if code == 429 else None
        return web.json_response({"error": f"answer {code}"}, status=code, headers=headers)

    app = web.Application()
    app.router.add_get("/status/{code}", answer)
    return app


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("code", "error"),
    [
        (429, VenueRateLimited),
        (503, VenueUnavailable),
        (403, VenueAuthError),
        (404, HttpStatusError),
    ],
)
async def test_every_error_status_carries_its_answer(code: int, error: type[Exception]) -> None:
    async with serve(_app()) as base, HttpClient("v") as http:
        with pytest.raises(error) as info:
            await http.get(f"{base}/status/{code}", {"k": "x"})
    answer = error_answer(info.value)
    assert answer is not None
    assert answer.body == f'{{"error": "answer {code}"}}'.encode()
    assert answer.ts_recv_ns > 0
    assert (answer.meta.status, answer.meta.url, answer.meta.params) == (
        code,
        f"{base}/status/{code}",
        {"k": "x"},
    )


def test_an_error_without_an_answer_has_none() -> None:
    assert error_answer(VenueUnavailable("connection refused")) is None


class _Sink:
    def __init__(self) -> None:
        self.http: list[tuple[bytes, int]] = []
        self.errors: list[dict[str, Any]] = []

    def on_frame(self, stream: str, payload: bytes, ts_recv_ns: int) -> None:
        raise AssertionError("a poller delivers HTTP bodies only")

    def on_http(self, stream: str, payload: bytes, ts_recv_ns: int, meta: HttpMeta) -> None:
        self.http.append((payload, meta.status))

    def on_session_event(self, stream: str, kind: str, detail: dict[str, Any]) -> None:
        if kind == "error":
            self.errors.append(detail)


@pytest.mark.asyncio
async def test_the_poller_hands_error_answers_to_the_sink_before_the_error_event() -> None:
    codes = iter([429, 200])

    async with serve(_app()) as base, HttpClient("v") as http:

        async def fetch(keys: Any) -> list[tuple[bytes, int, HttpMeta]]:
            code = next(codes, 200)
            if code == 200:
                meta = HttpMeta(method="GET", url="/ok", status=200, latency_ns=1_000_000)
                return [(b"book", 1, meta)]
            return [await http.get(f"{base}/status/{code}")]

        sink = _Sink()
        poller = RestPollSession(fetch, PollSettings(interval_s=0.05), cooldown=http.cooldown)
        await poller.subscribe(["a"])
        task = asyncio.create_task(poller.run(sink))
        try:
            await eventually(lambda: (b"book", 200) in sink.http)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert sink.http[0] == (b'{"error": "answer 429"}', 429)
    assert len(sink.errors) == 1
