from __future__ import annotations

import logging
from pathlib import Path

import msgspec
import pytest

from pmtape.store.jsonl import JsonlWriter, append_jsonl, iter_jsonl


class Market(msgspec.Struct):
    id: str
    volume: float


def test_append_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "markets" / "venue=sim" / "markets_00.jsonl"
    assert append_jsonl(path, [Market("a", 1.5), Market("b", 2.0)]) == 2
    with JsonlWriter(path) as writer:
        writer.write(Market("c", 0.0))
        writer.write_many([])
    assert path.read_bytes().count(b"\n") == 3
    assert [m.id for m in iter_jsonl(path, Market)] == ["a", "b", "c"]
    assert next(iter_jsonl(path)) == {"id": "a", "volume": 1.5}


def test_torn_last_line_is_isolated_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "universe.jsonl"
    path.write_bytes(b'{"id":"a","volume":1}\n{"id":"b","vol')  # crash mid-line
    append_jsonl(path, [Market("c", 3.0)])
    with caplog.at_level(logging.WARNING):
        assert [m.id for m in iter_jsonl(path, Market)] == ["a", "c"]
    assert len(caplog.records) == 1


def test_closed_writer_refuses(tmp_path: Path) -> None:
    writer = JsonlWriter(tmp_path / "x.jsonl", fsync=True)
    writer.write({"a": 1})
    writer.close()
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write({"a": 2})
    assert (tmp_path / "x.jsonl").read_bytes() == b'{"a":1}\n'
