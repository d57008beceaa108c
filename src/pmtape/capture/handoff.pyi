# Type stub of the compiled packer (handoff.pyx); see its docstring.
from collections import deque
from collections.abc import Callable

from typing_extensions import Buffer

def crc32c(data: bytes, crc: int = 0, hardware: bool = True) -> int: ...

class Buf(Buffer):
    used: int
    def __len__(self) -> int: ...
    def __buffer__(self, flags: int) -> memoryview: ...

Block = tuple[Buf, int, int, int, int, int, int]

class Handoff:
    recent: deque[bytes]
    block_bytes: int
    queue_max: int
    queued: int
    queued_bytes: int
    refused: int
    refused_bytes: int
    unencodable: int
    last_unencodable: str | None
    taken: int
    taken_bytes: int
    closed: bool
    on_seal: Callable[[], None] | None
    def __init__(self, block_bytes: int, queue_max: int, recent: int) -> None: ...
    def push(
        self, kind: int, stream: str, payload: bytes, rx_wall_ns: int, rx_mono_ns: int
    ) -> None: ...
    def push_meta(
        self,
        kind: int,
        stream: str,
        meta: bytes,
        payload: bytes,
        rx_wall_ns: int,
        rx_mono_ns: int,
    ) -> None: ...
    def take(self, force: bool, max_age_s: float) -> Block | None: ...
    def sealed_count(self) -> int: ...
    def recycle(self, buf: Buf) -> None: ...
    def backlog(self) -> int: ...
