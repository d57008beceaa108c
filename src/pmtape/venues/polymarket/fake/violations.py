"""Books that break an invariant the collector audits: the fake's ``violation`` fault.

Each kind turns a token's true book (wire order: best LAST on both sides) into one that breaks
exactly one audited invariant, so a test can inject it and look for its reason in the
archive. The true book the fake keeps is untouched; later changes are served as usual.

- ``crossed``: a bid at the best ask (a locked book).
- ``pair_drift``: every bid 0.1 lower (within (0, 1)), so YES bid + NO ask is 0.9.
- ``off_tick``: a bid half a tick below the best bid.
- ``size``: the best bid with a negative size.
- ``px_range``: an ask at 1.01.

``size`` and ``px_range`` books are not valid wire data: the collector rejects them (counted)
and marks the token's book stale with the audit's reason (see ``collect.state``).
"""

from __future__ import annotations

from pmtape.core.fixed import format_e6, parse_e6
from pmtape.venues.polymarket.messages import Level

VIOLATIONS = ("crossed", "pair_drift", "off_tick", "size", "px_range")
"""The kinds, named as the audit each one trips (``store.rows.AUDITS``)."""

_SHIFT_E6 = 100_000
_SCALE_E6 = 1_000_000


def inject(
    kind: str, bids: list[Level], asks: list[Level], tick_e6: int
) -> tuple[list[Level], list[Level]]:
    """Return copies of (bids, asks) breaking the ``kind`` invariant (unchanged if impossible)."""
    bids = list(bids)
    asks = list(asks)
    if kind == "crossed":
        if asks:
            bids.append(Level(asks[-1].price, "10"))
        elif bids:
            asks.append(Level(bids[-1].price, "10"))
    elif kind == "pair_drift":
        bids = _shifted(bids)
    elif kind == "off_tick":
        half = max(tick_e6 // 2, 1)
        if bids and parse_e6(bids[-1].price) > half:
            bids.insert(len(bids) - 1, Level(format_e6(parse_e6(bids[-1].price) - half), "10"))
        elif asks and parse_e6(asks[-1].price) + half < _SCALE_E6:
            asks.insert(len(asks) - 1, Level(format_e6(parse_e6(asks[-1].price) + half), "10"))
    elif kind == "size":
        if bids:
            bids[-1] = Level(bids[-1].price, "-5")
        else:
            bids.append(Level("0.5", "-5"))
    elif kind == "px_range":
        asks.insert(0, Level("1.01", "10"))
    else:
        raise ValueError(f"unknown violation {kind!r} (known: {', '.join(VIOLATIONS)})")
    return bids, asks


def _shifted(bids: list[Level]) -> list[Level]:
    out = []
    for lvl in bids:
        px = parse_e6(lvl.price) - _SHIFT_E6
        if px > 0:
            out.append(Level(format_e6(px), lvl.size))
    return out
