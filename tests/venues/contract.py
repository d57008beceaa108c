"""The shape of a JSON document, and the drift between a venue's shape and its fake's.

A shape maps each field path to the JSON types seen there: ``book.bids[].price`` ->
``{"string"}``. Lists contribute the union of their items' shapes (path suffix ``[]``), so a
field present in any item counts. A list seen only empty says nothing about its items: no
item field under it is reported missing on that side. Pure: no I/O, used by the live contract
tests (test_live_contract.py) and tested offline in test_contract_shapes.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

JsonType = str
"""One of ``object``, ``array``, ``string``, ``number``, ``boolean``, ``null``."""


@dataclass
class Shape:
    """Field path -> JSON types seen there; and the array paths seen with at least one item."""

    types: dict[str, set[JsonType]] = field(default_factory=dict)
    filled_arrays: set[str] = field(default_factory=set)


def json_type(value: Any) -> JsonType:
    """Return the JSON type name of a decoded value (bool before int: bool is an int)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    raise TypeError(f"not a decoded JSON value: {type(value).__name__}")


def shape_of(docs: Iterable[Any], root: str) -> Shape:
    """Return the union shape of ``docs`` (decoded JSON), paths starting at ``root``."""
    shape = Shape()
    for doc in docs:
        _walk(doc, root, shape)
    return shape


def _walk(value: Any, path: str, shape: Shape) -> None:
    shape.types.setdefault(path, set()).add(json_type(value))
    if isinstance(value, dict):
        for key, child in value.items():
            _walk(child, f"{path}.{key}", shape)
    elif isinstance(value, list | tuple):
        if value:
            shape.filled_arrays.add(path)
        for item in value:
            _walk(item, f"{path}[]", shape)


def _unknown_under(path: str, shape: Shape) -> bool:
    """Whether ``path`` sits below an array ``shape`` saw only empty (its items are unknown)."""
    cut = path.rfind("[]")
    while cut >= 0:
        array = path[:cut]
        if array in shape.types and array not in shape.filled_arrays:
            return True
        cut = path.rfind("[]", 0, cut)
    return False


def _types(types: set[JsonType]) -> str:
    return " or ".join(sorted(types))


def diff_shapes(venue: Shape, fake: Shape) -> list[str]:
    """Return one line per drift between the venue's shape and the fake's, by path."""
    lines: list[str] = []
    for path in sorted(venue.types.keys() | fake.types.keys()):
        mine, theirs = fake.types.get(path), venue.types.get(path)
        if mine is None:
            if not _unknown_under(path, fake) and not _reported_parent(path, venue, fake):
                lines.append(f"field {path}: venue sends it, fake does not")
        elif theirs is None:
            if not _unknown_under(path, venue) and not _reported_parent(path, fake, venue):
                lines.append(f"field {path}: fake sends it, venue does not")
        elif mine != theirs:
            lines.append(f"field {path}: venue sends {_types(theirs)}, fake sends {_types(mine)}")
    return lines


def _reported_parent(path: str, has: Shape, lacks: Shape) -> bool:
    """Whether a parent of ``path`` is already reported missing (one line per missing subtree)."""
    parent = _parent(path)
    while parent is not None:
        if parent in has.types and parent not in lacks.types:
            return True
        parent = _parent(parent)
    return False


def _parent(path: str) -> str | None:
    if path.endswith("[]"):
        return path[:-2]
    dot = path.rfind(".")
    return path[:dot] if dot > 0 else None


def drift_report(what: str, lines: list[str]) -> str:
    """Return a readable failure message for ``what``'s drift lines (empty string if none)."""
    if not lines:
        return ""
    body = "\n".join(f"  {line}" for line in lines)
    return f"{what}: the fake's shape drifted from the venue's ({len(lines)}):\n{body}"


def compare(what: str, venue_docs: Iterable[Any], fake_docs: Iterable[Any], root: str) -> str:
    """Return the drift report of ``what`` between venue and fake documents ("" if none)."""
    venue = shape_of(venue_docs, root)
    fake = shape_of(fake_docs, root)
    return drift_report(what, diff_shapes(venue, fake))
