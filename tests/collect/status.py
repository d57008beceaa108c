"""Reading the collector's status lines back as fields, the way an operator reads them."""

from __future__ import annotations


def status_fields(lines: list[str], prefix: str) -> dict[str, str]:
    """Return the ``key=value`` fields of the status line starting with ``prefix:``."""
    line = next(s for s in lines if s.startswith(f"{prefix}:"))
    return dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
