"""Books that break an invariant the collector audits: the fake Kalshi's ``violation`` fault.

A Kalshi book is two bid ladders (YES and NO, each ascending, best last; the YES book's asks
are 1 - NO bids). Each kind changes a served copy so the YES book breaks one audited
invariant; the fake's own ladders are untouched. Kalshi markets are one book each, so there is
no binary-pair drift to inject.

- ``crossed``: a YES bid at the YES ask (1 - best NO bid): a locked book.
- ``off_tick``: a YES bid half a tick below the best YES bid.
- ``size``: the best YES bid with a negative count.
- ``px_range``: a NO bid at 1.0100 (a YES ask below 0).

``size`` and ``px_range`` are not valid wire data: the collector refuses the book (counted)
and marks it stale with the audit's reason.
"""

from __future__ import annotations

from pmtape.core.fixed import SCALE, format_e6, parse_e6
from pmtape.venues.kalshi.messages import Ladder

VIOLATIONS = ("crossed", "off_tick", "size", "px_range")
"""The kinds, named as the audit each one trips (``store.rows.AUDITS``).

Injected prices are plain decimals (``"0.415"``): the venue's dollar strings vary in their
number of decimals too (PROTOCOLS §2).
"""


def inject(kind: str, yes: Ladder, no: Ladder, tick_e6: int) -> tuple[Ladder, Ladder]:
    """Return copies of the (YES, NO) ladders breaking the ``kind`` invariant."""
    yes = list(yes)
    no = list(no)
    if kind == "crossed":
        if no:
            yes.append((format_e6(SCALE - parse_e6(no[-1][0])), "10.00"))
        elif yes:
            no.append((format_e6(SCALE - parse_e6(yes[-1][0])), "10.00"))
    elif kind == "off_tick":
        half = max(tick_e6 // 2, 100)  # format_e6() keeps 4 decimals
        if yes and parse_e6(yes[-1][0]) > half:
            yes.insert(len(yes) - 1, (format_e6(parse_e6(yes[-1][0]) - half), "10.00"))
        elif no and parse_e6(no[-1][0]) > half:
            no.insert(len(no) - 1, (format_e6(parse_e6(no[-1][0]) - half), "10.00"))
    elif kind == "size":
        if yes:
            yes[-1] = (yes[-1][0], "-5.00")
        else:
            yes.append(("0.5000", "-5.00"))
    elif kind == "px_range":
        no.append(("1.0100", "10.00"))
    else:
        raise ValueError(f"unknown violation {kind!r} (known: {', '.join(VIOLATIONS)})")
    return yes, no
