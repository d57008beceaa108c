"""The one error tree of pmtape.

PmtapeError
├── ConfigError                 bad key/value in file, env or flag (exit 2)
├── UsageError                  a command was asked for something impossible (exit 2)
├── VenueError
│   ├── VenueProtocolError      a message we cannot understand (counted, kept, skipped)
│   ├── VenueAuthError          credentials refused; never retried in a storm
│   ├── VenueRateLimited        429 and friends; carries retry_after_s
│   └── VenueUnavailable        5xx, refused connection, ...
│       └── VenueTimeout
├── StoreError                  writing or reading the archive failed
└── CaptureCorrupt              a capture or state file does not verify
"""

from __future__ import annotations


class PmtapeError(Exception):
    """Base of every error pmtape raises on purpose."""

    exit_code = 1


class ConfigError(PmtapeError):
    """A configuration key or value is wrong; names the key and where it came from."""

    exit_code = 2


class UsageError(PmtapeError):
    """A command was called in a way that cannot work."""

    exit_code = 2


class VenueError(PmtapeError):
    """Something went wrong talking to a venue."""


class VenueProtocolError(VenueError):
    """A venue message could not be understood."""


class VenueAuthError(VenueError):
    """A venue refused our credentials."""


class VenueRateLimited(VenueError):
    """A venue asked us to slow down."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class VenueUnavailable(VenueError):
    """A venue could not be reached or answered with a server error."""


class VenueTimeout(VenueUnavailable):
    """A venue did not answer in time."""


class StoreError(PmtapeError):
    """Writing or reading the archive failed."""


class CaptureCorrupt(PmtapeError):
    """A capture, snapshot or state file is damaged."""


class CaptureUnconfirmed(PmtapeError):
    """A capture run's venues delivered no data within the start-up confirmation window."""
