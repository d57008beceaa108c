from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmtape.core.errors import VenueProtocolError
from pmtape.core.fixed import e6_to_float, format_e6, parse_e6, parse_e6_plain, to_e6


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.505", 505_000),
        ("0.5", 500_000),
        (".5", 500_000),
        ("1", 1_000_000),
        ("0", 0),
        ("12.34", 12_340_000),
        ("0.000001", 1),
        ("0.0000005", 1),  # half rounds up
        ("0.00000049", 0),
        ("0.0000014999", 1),
        ("0.9999995", 1_000_000),
        ("1234567.891", 1_234_567_891_000),
        ("1e-3", 1_000),
        ("2.5E+1", 25_000_000),
        ("-0.0000005", -1),  # half away from zero
        (" 0.25 ", 250_000),
    ],
)
def test_parse_e6(text: str, expected: int) -> None:
    assert parse_e6(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "0.5x", "NaN", "inf", "1..2", "--1", "\u0661.\u0665"])
def test_parse_e6_rejects_non_numbers(text: str) -> None:
    with pytest.raises(VenueProtocolError):
        parse_e6(text)


@pytest.mark.parametrize(
    "value", ["9223372036854.775808", "10000000000000", "1e30", "-9223372036854.775809"]
)
def test_parse_e6_and_to_e6_refuse_what_no_64_bit_e6_holds(value: str) -> None:
    with pytest.raises(VenueProtocolError):
        parse_e6(value)
    with pytest.raises(VenueProtocolError):
        to_e6(Decimal(value))
    assert parse_e6("9223372036854.775807") == (1 << 63) - 1  # the largest that fits


def test_to_e6_refuses_an_int_past_the_64_bit_e6_range() -> None:
    assert to_e6(9_223_372_036_854) == 9_223_372_036_854_000_000
    with pytest.raises(VenueProtocolError):
        to_e6(10**13)


@given(st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False, places=9))
def test_parse_e6_matches_decimal_half_up(value: Decimal) -> None:
    expected = int(value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP).scaleb(6))
    assert parse_e6(format(value, "f")) == expected


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_round_trips(value: int) -> None:
    assert parse_e6(format_e6(value)) == value


def test_to_e6_accepts_every_json_number_form() -> None:
    assert to_e6("0.45") == to_e6(0.45) == to_e6(Decimal("0.45")) == 450_000
    assert to_e6(3) == 3_000_000
    with pytest.raises(VenueProtocolError):
        to_e6(True)


def test_e6_to_float_is_the_nearest_double() -> None:
    assert e6_to_float(450_000) == float("0.45")
    assert e6_to_float(1) == float("0.000001")


@given(
    st.text(alphabet="0123456789.", max_size=24)
    | st.from_regex(r"\A[0-9]{0,13}(\.[0-9]{0,12})?\Z")
    | st.text(max_size=12)
)
def test_the_plain_parser_agrees_with_parse_e6_wherever_it_answers(text: str) -> None:
    got = parse_e6_plain(text)
    if got == -1:  # not a plain decimal: parse_e6 decides (and may well accept it)
        assert not _is_plain(text)
        return
    assert _is_plain(text)
    assert got == parse_e6(text)


def _is_plain(text: str) -> bool:
    whole, _dot, frac = text.partition(".")
    digits = "0123456789"
    return (
        (whole or frac) != ""
        and all(c in digits for c in whole + frac)
        and len(whole) <= 12
        and "." not in frac
    )
