"""Merged order across shards is (rx_mono_ns, shard, index); filters agree with brute force."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pmtape.capture import CaptureReader, FrameFilter, FrameKind, RunBundle, WriterOptions

from .util import MONO0, WALL0, payload


@pytest.fixture
def run(tmp_path: Path) -> Path:
    rng = random.Random(3)
    with RunBundle.create(tmp_path, "r", {}) as b:
        cap = b.open_capture(range(3), WriterOptions(block_bytes=512, threaded=False))
        mono = [MONO0] * 3
        for i in range(900):
            s = rng.randrange(3)
            mono[s] += rng.choice((0, 1_000, 50_000))  # ties across shards on purpose
            kind = FrameKind.WS_TEXT if i % 7 else FrameKind.HTTP_RESPONSE
            cap.append(s, kind, f"c{i % 4}", payload(i), WALL0 + mono[s] - MONO0, mono[s])
        cap.close()
    return b.path


def test_bundle_frames_are_merged_deterministically(run: Path) -> None:
    got = [(f.rx_mono_ns, f.shard, f.index) for f in CaptureReader(run).frames()]
    assert got == sorted(got)
    assert len(got) == 900
    again = [(f.rx_mono_ns, f.shard, f.index) for f in CaptureReader(run).frames()]
    assert again == got


@pytest.mark.parametrize(
    "flt",
    [
        FrameFilter(mono_from_ns=MONO0 + 2_000_000, mono_to_ns=MONO0 + 4_000_000),
        FrameFilter(wall_from_ns=WALL0 + 3_000_000),
        FrameFilter(wall_to_ns=WALL0 + 1_000_000, streams=frozenset({"c1", "c2"})),
        FrameFilter(kinds=frozenset({FrameKind.HTTP_RESPONSE})),
    ],
)
def test_filters_match_brute_force(run: Path, flt: FrameFilter) -> None:
    everything = list(CaptureReader(run).frames())
    expected = [f for f in everything if flt.matches(f)]
    assert expected  # the case means something
    assert len(expected) < len(everything)
    assert list(CaptureReader(run).frames(flt)) == expected


def test_shard_selection(run: Path) -> None:
    got = list(CaptureReader(run).frames(shards=[1]))
    assert {f.shard for f in got} == {1}
    assert [f.index for f in got] == list(range(len(got)))
