"""The shape extraction and diff behind the live contract tests, offline."""

from __future__ import annotations

from typing import Any

import pytest

from tests.venues.contract import compare, diff_shapes, json_type, shape_of


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "boolean"),
        (0, "number"),
        (0.5, "number"),
        ("0.5", "string"),
        ({}, "object"),
        ([], "array"),
    ],
)
def test_json_types(value: Any, expected: str) -> None:
    assert json_type(value) == expected


def test_json_type_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(TypeError, match="bytes"):
        json_type(b"x")


def test_shape_is_recursive_and_unions_list_items() -> None:
    doc = {
        "market": "0xabc",
        "bids": [{"price": "0.5", "size": "10"}, {"price": "0.4", "size": "1", "x": None}],
        "neg_risk": False,
        "ladder": [["0.1", 5]],
    }
    shape = shape_of([doc], "book")
    assert shape.types == {
        "book": {"object"},
        "book.market": {"string"},
        "book.bids": {"array"},
        "book.bids[]": {"object"},
        "book.bids[].price": {"string"},
        "book.bids[].size": {"string"},
        "book.bids[].x": {"null"},
        "book.neg_risk": {"boolean"},
        "book.ladder": {"array"},
        "book.ladder[]": {"array"},
        "book.ladder[][]": {"string", "number"},
    }


def test_shape_unions_several_documents() -> None:
    shape = shape_of([{"a": 1}, {"a": None, "b": "x"}], "m")
    assert shape.types["m.a"] == {"number", "null"}
    assert shape.types["m.b"] == {"string"}


def test_identical_shapes_have_no_drift() -> None:
    venue = [{"id": "1", "levels": [{"p": "0.5"}]}, {"id": "2", "levels": []}]
    fake = [{"id": "9", "levels": [{"p": "0.1"}, {"p": "0.2"}]}]
    assert diff_shapes(shape_of(venue, "m"), shape_of(fake, "m")) == []
    assert compare("GET /m", venue, fake, "m") == ""


def test_a_type_change_is_reported_by_path() -> None:
    lines = diff_shapes(shape_of([{"x": {"y": "1"}}], "X"), shape_of([{"x": {"y": 1}}], "X"))
    assert lines == ["field X.x.y: venue sends string, fake sends number"]


def test_unions_are_named_in_order() -> None:
    lines = diff_shapes(shape_of([{"q": None}, {"q": "a"}], "m"), shape_of([{"q": "b"}], "m"))
    assert lines == ["field m.q: venue sends null or string, fake sends string"]


def test_missing_fields_are_reported_both_ways() -> None:
    venue = {"y": 1, "z": "only the venue"}
    fake = {"y": 2, "w": True}
    assert diff_shapes(shape_of([venue], "X"), shape_of([fake], "X")) == [
        "field X.w: fake sends it, venue does not",
        "field X.z: venue sends it, fake does not",
    ]


def test_a_missing_subtree_is_one_line() -> None:
    venue = {"events": [{"id": "1", "tags": [{"slug": "a"}]}]}
    lines = diff_shapes(shape_of([venue], "m"), shape_of([{}], "m"))
    assert lines == ["field m.events: venue sends it, fake does not"]


def test_a_list_seen_only_empty_hides_nothing_and_invents_nothing() -> None:
    venue = {"asks": [], "bids": [{"price": "0.5"}]}
    fake = {"asks": [{"price": "0.6"}], "bids": [{"price": "0.4"}]}
    assert diff_shapes(shape_of([venue], "b"), shape_of([fake], "b")) == []
    assert diff_shapes(shape_of([fake], "b"), shape_of([venue], "b")) == []


def test_list_items_of_another_type_are_drift() -> None:
    venue = {"bids": [{"price": 0.5, "size": 1_000_000}]}
    fake = {"bids": [{"price": "0.5", "size": 1_000_000}]}
    lines = diff_shapes(shape_of([venue], "ob"), shape_of([fake], "ob"))
    assert lines == ["field ob.bids[].price: venue sends number, fake sends string"]


def test_report_names_the_request_and_every_line() -> None:
    report = compare("GET /book", [{"a": "1", "b": 1}], [{"a": 1}], "book")
    assert report.splitlines() == [
        "GET /book: the fake's shape drifted from the venue's (2):",
        "  field book.a: venue sends string, fake sends number",
        "  field book.b: venue sends it, fake does not",
    ]
