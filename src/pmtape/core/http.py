"""How an HTTP body was obtained: the one shape sessions hand to sinks and captures store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec


@dataclass(frozen=True, slots=True)
class HttpMeta:
    """How an HTTP body was obtained: kept beside the body in the capture and handed to sinks."""

    method: str
    url: str
    status: int
    latency_ns: int
    params: Any = None

    @property
    def latency_ms(self) -> float:
        """The request's latency in milliseconds."""
        return self.latency_ns / 1_000_000

    def encode(self) -> bytes:
        """Return the compact JSON stored after the stream id."""
        return msgspec.json.encode(
            {
                "method": self.method,
                "url": self.url,
                "params": self.params,
                "status": self.status,
                "latency_ns": self.latency_ns,
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> HttpMeta:
        """Parse the JSON written by ``encode``."""
        obj = msgspec.json.decode(data)
        return cls(
            method=obj["method"],
            url=obj["url"],
            status=obj["status"],
            latency_ns=obj["latency_ns"],
            params=obj.get("params"),
        )
