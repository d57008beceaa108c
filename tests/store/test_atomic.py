from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq

from pmtape.store.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    cleanup_stale_tmp,
    cleanup_stale_tmp_tree,
    tmp_path_for,
)
from tests.helpers import eventually_sync


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_atomic_write_creates_dirs_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "state" / "venue=sim" / "active.json"
    atomic_write_json(target, {"keys": ["a", "b"], "n": 2})
    assert json.loads(target.read_text()) == {"keys": ["a", "b"], "n": 2}
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert os.listdir(target.parent) == ["active.json"]  # no temp file left behind


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    atomic_write_bytes(target, b"old")
    try:
        atomic_write_json(target, {"bad": object()})
    except TypeError:
        pass
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["x.json"]


def test_cleanup_removes_only_dead_writers_temps(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "f.parquet"
    target.parent.mkdir()
    dead = target.with_name(f".f.parquet.tmp-{_dead_pid()}-0a1b")
    mine = tmp_path_for(target)
    alive = target.with_name(f".f.parquet.tmp-{os.getppid()}-ff00")
    for path in (dead, mine, alive, target):
        path.write_bytes(b"x")
    assert cleanup_stale_tmp(tmp_path) == 0  # not recursive
    assert cleanup_stale_tmp_tree(tmp_path) == 1
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(
        [mine.name, alive.name, target.name]
    )
    assert cleanup_stale_tmp(tmp_path / "missing") == 0


# The child rewrites one bucket file (old rows + new rows) in a loop, as the writer thread
# does, and says "writing" before each write; the parent kills it while a temp file exists.
_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    import pyarrow as pa
    from pmtape.store.files import write_bucket
    from pmtape.store.rows import SNAPSHOT_SCHEMA

    rng = np.random.default_rng(1)
    n, k = 20_000, 50

    def table(start):
        cols = {}
        for f in SNAPSHOT_SCHEMA:
            if pa.types.is_list(f.type):
                offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
                cols[f.name] = pa.ListArray.from_arrays(offsets, pa.array(rng.random(n * k)))
            elif pa.types.is_string(f.type) or pa.types.is_dictionary(f.type):
                cols[f.name] = pa.array(["m%d" % i for i in rng.integers(0, 500, n)])
            elif pa.types.is_floating(f.type):
                cols[f.name] = pa.array(rng.random(n))
            else:
                cols[f.name] = pa.array(np.arange(start, start + n, dtype=np.int64))
        return pa.Table.from_pydict(cols, schema=SNAPSHOT_SCHEMA)

    data = Path(sys.argv[1])
    i = 0
    while True:
        print("writing", flush=True)
        write_bucket(data, "snapshots", "sim", 0, table(i * n), flush_rows=10**9)
        i += 1
    """
)


def test_writer_killed_mid_write_leaves_only_readable_parquet(tmp_path: Path) -> None:
    data = tmp_path / "data"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(data)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        for _ in range(3):  # let two complete rewrites land, then catch the third mid-write
            assert child.stdout.readline() == "writing\n"
        eventually_sync(lambda: any(".tmp-" in p.name for p in data.rglob("*")), 30, 0.001)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    files = list(data.rglob("*.parquet"))
    assert len(files) == 1
    table = pq.read_table(files[0])
    # two or three complete writes, never a partial one
    assert table.num_rows in (40_000, 60_000)
    assert sorted(table.column("ts_recv").to_pylist()) == list(range(table.num_rows))
    # The kill nearly always lands mid-write, leaving the temp file that start-up removes.
    leftovers = [p for p in data.rglob("*") if ".tmp-" in p.name]
    assert cleanup_stale_tmp_tree(data) == len(leftovers)
    assert not any(".tmp-" in p.name for p in data.rglob("*"))
