"""An aiohttp client for one venue: timeouts, token buckets, a shared cooldown, one error tree.

Every foreign error is translated here, at this one boundary, into ``pmtape.core.errors``:
timeouts become ``VenueTimeout``, refused or broken connections and 5xx ``VenueUnavailable``,
429 ``VenueRateLimited`` (with the seconds to wait), 401/403 ``VenueAuthError``, and any other
4xx an ``HttpStatusError`` (a ``VenueProtocolError`` that carries the status and body). A 429
or 5xx puts the whole venue in a cooldown that every client of that venue honours before
its next request: ``Retry-After`` when the venue sends one, else exponential backoff with
full jitter. Bodies come back raw, with the receive stamp and how they were fetched; an error
answer's body rides on the error (``error_answer``) so that it can be captured too.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import aiohttp

from pmtape import __version__
from pmtape.core.clock import mono_s
from pmtape.core.errors import (
    VenueAuthError,
    VenueProtocolError,
    VenueRateLimited,
    VenueTimeout,
    VenueUnavailable,
)
from pmtape.net.backoff import Backoff
from pmtape.net.ratelimit import RateLimiter
from pmtape.net.session import HttpMeta

USER_AGENT = f"pmtape/{__version__} (+https://github.com/pmtape)"
Verdict = Literal["retry", "skip", "fatal"]


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """A non-2xx answer as received: its body, receive stamp and how it was fetched."""

    body: bytes
    ts_recv_ns: int
    meta: HttpMeta


class _Answered(Exception):
    answer: ErrorAnswer | None = None


class HttpStatusError(_Answered, VenueProtocolError):
    """A 4xx answer that is about the request itself (bad or unknown key, bad parameter)."""

    def __init__(self, message: str, status: int, body: bytes) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class HttpRateLimited(_Answered, VenueRateLimited):
    """A 429 answer (the venue is cooling down)."""


class HttpUnavailable(_Answered, VenueUnavailable):
    """A 5xx answer."""


class HttpAuthError(_Answered, VenueAuthError):
    """A 401/403 answer."""


def error_answer(exc: BaseException) -> ErrorAnswer | None:
    """Return the HTTP answer an error was raised for (None: no answer came back)."""
    return exc.answer if isinstance(exc, _Answered) else None


class Cooldown:
    """A venue-wide pause after 429/5xx; plain state, shared by every client of the venue."""

    def __init__(
        self,
        backoff: Backoff | None = None,
        *,
        max_s: float = 300.0,
        clock: Callable[[], float] = mono_s,
    ) -> None:
        self._backoff = backoff or Backoff(1.0, 60.0, reset_after_s=0.0, clock=clock)
        self.max_s = max_s
        self._clock = clock
        self._until = 0.0
        self.trips = 0

    def remaining(self) -> float:
        """Return the seconds left in the cooldown (0 when none)."""
        return max(0.0, self._until - self._clock())

    def trip(self, retry_after_s: float | None = None) -> float:
        """Start (or extend) the cooldown; honour the venue's Retry-After when given."""
        self.trips += 1
        delay = self._backoff.next_delay()
        if retry_after_s is not None:
            delay = retry_after_s
        delay = min(max(delay, 0.0), self.max_s)
        self._until = max(self._until, self._clock() + delay)
        return self.remaining()

    def ok(self) -> None:
        """Record a good answer: the next trip starts from the base delay again."""
        self._backoff.reset()


def classify(exc: BaseException) -> Verdict:
    """Decide what a failed request means: retry later, skip this key, or stop."""
    if isinstance(exc, VenueAuthError):
        return "fatal"
    if isinstance(exc, VenueRateLimited | VenueUnavailable):
        return "retry"
    return "skip"


def retry_after_s(value: str | None, now_s: float | None = None) -> float | None:
    """Parse a Retry-After header: delta seconds or an HTTP date; None when absent/bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now_s is None else now_s))


class HttpClient:
    """One venue's HTTP client: one aiohttp session, its buckets and its cooldown."""

    def __init__(
        self,
        venue: str,
        *,
        timeout_s: float = 10.0,
        limiter: RateLimiter | None = None,
        cooldown: Cooldown | None = None,
        wait_cooldown: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.venue = venue
        self.timeout_s = timeout_s
        self.limiter = limiter
        self.cooldown = cooldown or Cooldown()
        self.wait_cooldown = wait_cooldown
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        self._session: aiohttp.ClientSession | None = None
        self.stats: Counter[str] = Counter()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying session (idempotent)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.timeout_s, connect=self.timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout, headers=self._headers)
        return self._session

    async def get(
        self, url: str, params: Mapping[str, Any] | None = None, *, buckets: Iterable[str] = ()
    ) -> tuple[bytes, int, HttpMeta]:
        """GET ``url``; return (body, ts_recv_ns, meta) or raise a VenueError."""
        return await self.request("GET", url, params=params, buckets=buckets)

    async def post(
        self, url: str, body: bytes, *, buckets: Iterable[str] = (), items: int | None = None
    ) -> tuple[bytes, int, HttpMeta]:
        """POST a JSON ``body`` to ``url``; return (body, ts_recv_ns, meta) or raise."""
        meta_params = {"items": items} if items is not None else {}
        return await self.request("POST", url, body=body, buckets=buckets, meta=meta_params)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        buckets: Iterable[str] = (),
        meta: Mapping[str, Any] | None = None,
    ) -> tuple[bytes, int, HttpMeta]:
        """Send one request after the cooldown and the buckets allow it; translate failures."""
        await self._honour_cooldown()
        if self.limiter is not None:
            await self.limiter.acquire(buckets)
        self.stats["requests"] += 1
        query = _query(params)
        headers = {"Content-Type": "application/json"} if body is not None else None
        started = mono_s()
        try:
            async with self._get_session().request(
                method, url, params=query, data=body, headers=headers
            ) as resp:
                payload = await resp.read()
                ts_recv_ns = time.time_ns()
                status = resp.status
                retry_after = retry_after_s(resp.headers.get("Retry-After"))
        except TimeoutError:
            self.stats["timeouts"] += 1
            raise VenueTimeout(f"{self.venue}: {method} {url} timed out") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            self.stats["connection_errors"] += 1
            self.cooldown.trip()
            raise VenueUnavailable(f"{self.venue}: {method} {url}: {exc!r}") from None
        except aiohttp.ClientError as exc:
            self.stats["client_errors"] += 1
            raise VenueUnavailable(f"{self.venue}: {method} {url}: {exc!r}") from None
        latency_ns = int((mono_s() - started) * 1e9)
        info = dict(meta) if meta else {k: v for k, v in (params or {}).items() if v is not None}
        how = HttpMeta(
            method=method, url=url, params=info or None, status=status, latency_ns=latency_ns
        )
        if not 200 <= status < 300:
            self._raise(ErrorAnswer(payload, ts_recv_ns, how), retry_after)
        self.stats["ok"] += 1
        self.cooldown.ok()
        return payload, ts_recv_ns, how

    async def _honour_cooldown(self) -> None:
        while (left := self.cooldown.remaining()) > 0:
            if not self.wait_cooldown:
                raise VenueRateLimited(f"{self.venue}: cooling down", retry_after_s=left)
            self.stats["cooldown_waits"] += 1
            await asyncio.sleep(left)

    def _raise(self, answer: ErrorAnswer, retry_after: float | None) -> None:
        meta, body = answer.meta, answer.body
        status = meta.status
        what = f"{self.venue}: {meta.method} {meta.url} -> HTTP {status}: {body[:200]!r}"
        self.stats[f"status_{status}"] += 1
        exc: _Answered
        if status == 429:
            exc = HttpRateLimited(what, retry_after_s=self.cooldown.trip(retry_after))
        elif status >= 500:
            self.cooldown.trip(retry_after)
            exc = HttpUnavailable(what)
        elif status in (401, 403):
            exc = HttpAuthError(what)
        else:
            exc = HttpStatusError(what, status, body)
        exc.answer = answer
        raise exc


def _query(params: Mapping[str, Any] | None) -> list[tuple[str, str]] | None:
    # Repeatable keys (e.g. condition_ids=a&condition_ids=b) come as lists; bools as JSON words.
    if not params:
        return None
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is not None:
            items = value if isinstance(value, list | tuple) else (value,)
            out.extend((key, _word(item)) for item in items)
    return out


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
