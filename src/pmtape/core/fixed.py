"""Fixed-point e6 prices and sizes: venue decimal strings straight to integers, never via float.

``parse_e6_plain`` is the receive path's parser: one pass over the characters of a plain
decimal ("0.505", "12", ".5"), compiled to a C loop by Cython (``fixed.pxd``), so a price
costs less to parse than to look up in a cache. Anything else goes to ``parse_e6``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from pmtape.core.errors import VenueProtocolError

SCALE = 1_000_000
E6_MAX = (1 << 63) - 1
"""The largest e6 value a book level or an archive column holds (a signed 64-bit integer)."""
_POW10 = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
_E6 = Decimal("0.000001")


def parse_e6(text: str) -> int:
    """Parse a decimal string into an e6 integer, rounding half up (away from zero).

    Raises ``VenueProtocolError`` for text that is no number or whose e6 value does not fit
    a signed 64-bit integer.
    """
    return _in_range(_parse(text), text)


def _in_range(value: int, given: object) -> int:
    if -E6_MAX - 1 <= value <= E6_MAX:
        return value
    raise VenueProtocolError(f"out of the 64-bit e6 range: {str(given)[:40]!r}")


def _parse(text: str) -> int:
    dot = text.find(".")
    if dot < 0:
        if text.isascii() and text.isdigit():
            return int(text) * SCALE
        return _parse_slow(text)
    whole = text[:dot]
    frac = text[dot + 1 :]
    if not (frac.isascii() and frac.isdigit()) or (
        whole and not (whole.isascii() and whole.isdigit())
    ):
        return _parse_slow(text)
    n = len(frac)
    base = int(whole) * SCALE if whole else 0
    if n <= 6:
        return base + int(frac) * _POW10[6 - n]
    value = base + int(frac[:6])
    if frac[6] >= "5":
        value += 1
    return value


def parse_e6_plain(text: str) -> int:
    """Parse a plain decimal string (ASCII digits, at most one dot) to e6, rounding half up.

    Return -1 for anything else (a sign, an exponent, spaces, no digits, over 12 digits
    before the dot): ``parse_e6`` then decides. Agrees with ``parse_e6`` wherever it
    answers.
    """
    whole = 0
    frac = 0
    n_whole = 0
    n_frac = 0
    dot = False
    up = False
    for ch in text:
        if "0" <= ch <= "9":
            digit = ord(ch) - 48
            if dot:
                if n_frac < 6:
                    frac = frac * 10 + digit
                elif n_frac == 6:
                    up = digit >= 5  # half up: only the seventh decimal decides
                n_frac += 1
            else:
                n_whole += 1
                if n_whole > 12:  # 10**12 * SCALE still fits in a signed 64-bit integer
                    return -1
                whole = whole * 10 + digit
        elif ch == "." and not dot:
            dot = True
        else:
            return -1
    if n_whole == 0 and n_frac == 0:
        return -1
    while n_frac < 6:
        frac *= 10
        n_frac += 1
    return whole * 1_000_000 + frac + (1 if up else 0)  # SCALE, as a C literal when compiled


def _parse_slow(text: str) -> int:
    if not text.isascii():
        raise VenueProtocolError(f"not a decimal number: {text[:40]!r}")
    try:
        dec = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        raise VenueProtocolError(f"not a decimal number: {text[:40]!r}") from None
    if not dec.is_finite():
        raise VenueProtocolError(f"not a finite number: {text[:40]!r}")
    try:
        return int(dec.quantize(_E6, rounding=ROUND_HALF_UP).scaleb(6))
    except InvalidOperation:  # too many digits to hold at e6: far past any e6 range
        raise VenueProtocolError(f"out of the 64-bit e6 range: {text[:40]!r}") from None


def to_e6(value: str | int | float | Decimal) -> int:
    """Convert any JSON number token (string, int, float, Decimal) to e6."""
    if isinstance(value, str):
        return parse_e6(value)
    if isinstance(value, bool):
        raise VenueProtocolError(f"not a number: {value!r}")
    if isinstance(value, int):
        return _in_range(value * SCALE, value)
    if isinstance(value, float):
        # repr() is the shortest string that round-trips, i.e. the JSON token the venue sent.
        return parse_e6(repr(value))
    if isinstance(value, Decimal):
        return _in_range(_parse_slow(str(value)), value)
    raise VenueProtocolError(f"not a number: {value!r}")


def e6_to_float(value: int) -> float:
    """Return an e6 integer as the nearest double (exact division, correctly rounded)."""
    return value / SCALE


def format_e6(value: int) -> str:
    """Format an e6 integer as the shortest exact decimal string ("0.505", "12")."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), SCALE)
    if not frac:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:06d}".rstrip("0")


_TOKEN_CACHE = 1 << 16
_TOKENS: dict[bytes, int] = {}


def token_e6(token: bytes) -> int:
    """Parse a raw JSON number or string token (``0.52`` or ``"0.52"``) to e6, cached.

    The same few hundred price and size tokens come all day, so each is parsed once; a token
    that is not a decimal (``null``, ``true``) raises ``ValueError`` like ``parse_e6``.
    """
    value = _TOKENS.get(token)
    if value is None:
        text = token[1:-1] if token[:1] == b'"' else token
        value = parse_e6(text.decode("ascii"))
        if len(_TOKENS) >= _TOKEN_CACHE:
            _TOKENS.clear()
        _TOKENS[token] = value
    return value
