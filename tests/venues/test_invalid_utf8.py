"""Invalid UTF-8 in a venue's frame is a bad frame, counted, for every venue: never raised.

msgspec raises ``UnicodeDecodeError`` (not ``DecodeError``) on such a string, so each place
that decodes venue bytes catches ``venues.base.DECODE_ERRORS``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pmtape.core.errors import VenueProtocolError
from pmtape.venues.base import Normalizer
from pmtape.venues.kalshi.normalize import KalshiNormalizer
from pmtape.venues.kalshi.rest import decode_object
from pmtape.venues.limitless.normalize import LimitlessNormalizer
from pmtape.venues.polymarket.normalize import PolymarketNormalizer
from pmtape.venues.sim.normalize import SimNormalizer

FRAMES = [b'{"a":"\x80"}', b'["\x80"]', b'42["\x80"]', b'{"\x80":1}']
NORMALIZERS: dict[str, Callable[[], Normalizer]] = {
    "sim": SimNormalizer,
    "kalshi": KalshiNormalizer,
    "limitless": LimitlessNormalizer,
    "polymarket": PolymarketNormalizer,
    "polymarket without the scanner": lambda: PolymarketNormalizer(scan=False),
}


@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize("name", list(NORMALIZERS))
def test_every_normalizer_counts_invalid_utf8_and_returns_nothing(name: str, frame: bytes) -> None:
    norm = NORMALIZERS[name]()
    assert norm.normalize(frame, 1) == []
    # Limitless frames are Engine.IO packets: a bare object is an unknown packet, not bad.
    counted = "unknown" if name == "limitless" and frame.startswith(b"{") else "bad"
    assert norm.stats[counted] == 1
    assert norm.stats["bad"] + norm.stats.get("unknown", 0) == 1


def test_a_rest_body_of_invalid_utf8_is_a_protocol_error() -> None:
    with pytest.raises(VenueProtocolError):
        decode_object(b'{"a":"\x80"}')
