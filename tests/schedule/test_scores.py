"""Reading the miner's stats cache."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pmtape.schedule.scores import load_scores
from pmtape.store.stats import stats_path

TODAY = 1_714_557_600_000  # 2024-05-01T10:00:00Z


def write_stats(data_dir: Path, venue: str, date: str, scores: dict[str, float]) -> Path:
    path = stats_path(data_dir, venue, date)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "instrument_key": pa.array(list(scores), pa.string()),
            "score": pa.array(list(scores.values()), pa.float64()),
        }
    )
    pq.write_table(table, path)
    return path


def test_newest_cache_on_or_before_today(tmp_path: Path) -> None:
    write_stats(tmp_path, "v", "2024-04-29", {"v:a:y": 0.1})
    write_stats(tmp_path, "v", "2024-04-30", {"v:b:y": 0.2, "v:c:y": math.nan})
    write_stats(tmp_path, "v", "2024-05-02", {"v:future:y": 0.3})
    write_stats(tmp_path, "w", "2024-05-01", {"w:other:y": 0.4})
    (tmp_path / "stats" / "venue=v" / "date=2024-05-01").mkdir()  # a dir without a file
    assert load_scores(tmp_path, "v", TODAY) == {"v:b:y": 0.2}


def test_same_day_cache_is_used(tmp_path: Path) -> None:
    write_stats(tmp_path, "v", "2024-05-01", {"v:a:y": 0.5})
    assert load_scores(tmp_path, "v", TODAY) == {"v:a:y": 0.5}


def test_no_cache_is_none(tmp_path: Path) -> None:
    assert load_scores(tmp_path, "v", TODAY) is None
    write_stats(tmp_path, "v", "2024-05-02", {"v:a:y": 0.5})
    assert load_scores(tmp_path, "v", TODAY) is None


@pytest.mark.parametrize("content", [b"garbage", None])
def test_unreadable_cache_is_none_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes | None
) -> None:
    path = stats_path(tmp_path, "v", "2024-05-01")
    path.parent.mkdir(parents=True)
    if content is None:  # valid Parquet, but no score column
        pq.write_table(pa.table({"instrument_key": ["v:a:y"]}), path)
    else:
        path.write_bytes(content)
    caplog.set_level(logging.WARNING, logger="pmtape.schedule.scores")
    assert load_scores(tmp_path, "v", TODAY) is None
    assert load_scores(tmp_path, "v", TODAY) is None
    assert len([r for r in caplog.records if r.name == "pmtape.schedule.scores"]) == 1
