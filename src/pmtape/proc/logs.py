"""Process-wide logging: one line per record, UTC stamps, to stderr."""

from __future__ import annotations

import logging
import sys
import time


class _UtcFormatter(logging.Formatter):
    converter = staticmethod(time.gmtime)


def setup_logging(level: str = "INFO") -> None:
    """Send pmtape's log records to stderr as ``time level name: message`` (UTC)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _UtcFormatter("%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("asyncio").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # the demo's fakes
