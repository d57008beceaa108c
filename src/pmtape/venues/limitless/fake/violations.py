"""Books that break an invariant the collector audits: the fake Limitless's ``violation`` fault.

Each kind changes a served copy of a market's book (e6 levels, best first on both sides) so it
breaks one audited invariant; the fake's own book is untouched. Limitless states no tick and
serves one book per market, so there is no off-tick or pair drift to inject.

- ``crossed``: a bid at the best ask (a locked book).
- ``size``: the best bid with a negative size.
- ``px_range``: an ask at 1.01.

``size`` and ``px_range`` are not valid wire data: the collector refuses the book (counted)
and marks it stale with the audit's reason.
"""

from __future__ import annotations

from pmtape.core.events import Level

VIOLATIONS = ("crossed", "size", "px_range")
"""The kinds, named as the audit each one trips (``store.rows.AUDITS``)."""

_SIZE = 10_000_000  # 10 shares in the venue's raw 1e6 units


def inject(kind: str, bids: list[Level], asks: list[Level]) -> tuple[list[Level], list[Level]]:
    """Return copies of (bids, asks) breaking the ``kind`` invariant."""
    bids = list(bids)
    asks = list(asks)
    if kind == "crossed":
        if asks:
            bids.insert(0, (asks[0][0], _SIZE))
        elif bids:
            asks.insert(0, (bids[0][0], _SIZE))
    elif kind == "size":
        if bids:
            bids[0] = (bids[0][0], -_SIZE)
        else:
            bids.append((500_000, -_SIZE))
    elif kind == "px_range":
        asks.append((1_010_000, _SIZE))
    else:
        raise ValueError(f"unknown violation {kind!r} (known: {', '.join(VIOLATIONS)})")
    return bids, asks
