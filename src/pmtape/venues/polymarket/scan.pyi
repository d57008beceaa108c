# Type stub of the compiled scanner (scan.pyx); see its docstring.
from collections.abc import Callable
from typing import Any

from pmtape.core.book import Book
from pmtape.core.events import Event

def price_change(
    payload: bytes,
    ts_recv_ms: int,
    books: dict[str, Book],
    out: list[Event],
    stats: dict[str, int] | None = None,
    known: dict[str, tuple[bytes, bytes] | None] | None = None,
    learn: Callable[[str, Any, Any], None] | None = None,
) -> int: ...
