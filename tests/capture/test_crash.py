"""A writer killed with SIGKILL loses at most the last flush interval; the rest verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from pmtape.capture import (
    CaptureReader,
    CaptureWriter,
    FrameKind,
    RunBundle,
    WriterOptions,
    verify_bundle,
)
from pmtape.cli.capture_cmd import capture_app
from tests.helpers import eventually_sync

from .util import idx_entries

FLUSH_S = 0.2
SLACK_S = 0.4  # scheduling on a loaded 2-core box; the bound checked is flush + slack

CHILD = """
import sys, time
from pathlib import Path
from pmtape.capture import CaptureWriter, FrameKind, WriterOptions
w = CaptureWriter(Path(sys.argv[1]), 0, WriterOptions(flush_interval_s=float(sys.argv[2])))
pad = b"x" * 300
i = 0
print("ready", flush=True)
while True:
    for _ in range(20):
        body = b'{"seq":' + str(i).encode() + b',"pad":"' + pad + b'"}'
        w.append(FrameKind.WS_TEXT, "ws-0", body, time.time_ns(), time.monotonic_ns())
        i += 1
    time.sleep(0.0005)
"""


def _blocks_written(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 32 + 64 * 3


def test_sigkill_mid_run_keeps_every_frame_older_than_the_flush_interval(tmp_path: Path) -> None:
    bundle = RunBundle.create(tmp_path, "crash", {"purpose": "sigkill test"})
    bundle.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(bundle.capture_dir), str(FLUSH_S)],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        eventually_sync(lambda: _blocks_written(bundle.capture_dir / "shard_00.frames"))
        time.sleep(0.5)
        killed_at = time.monotonic_ns()
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        assert child.stdout is not None
        child.stdout.close()

    frames = list(CaptureReader(bundle.path).frames())
    assert [f.index for f in frames] == list(range(len(frames)))
    assert [int(f.payload.split(b",")[0].split(b":")[1]) for f in frames] == list(
        range(len(frames))
    )
    assert frames[-1].rx_mono_ns >= killed_at - int((FLUSH_S + SLACK_S) * 1e9)
    assert verify_bundle(bundle.path).ok

    # Killed during a block's write: its first bytes on disk, no idx entry yet. A named loss
    # of the frames not yet durable, not a failure.
    shard = bundle.capture_dir / "shard_00.frames"
    last = idx_entries(bundle.capture_dir / "shard_00.idx")[-1]
    end = shard.stat().st_size
    with shard.open("ab") as f:
        f.write(shard.read_bytes()[last.offset : last.offset + 100])
    result = CliRunner().invoke(capture_app, ["verify", str(bundle.path)])
    assert result.exit_code == 0, result.output
    assert f"torn tail: 100 bytes at offset {end}: the block being written" in result.stdout

    with CaptureWriter(bundle.capture_dir, 0, WriterOptions(threaded=False)) as w:
        w.append(FrameKind.WS_TEXT, "ws-0", b'{"after":"restart"}', 0, time.monotonic_ns())
    again = list(CaptureReader(bundle.path).frames())
    assert [f.index for f in again] == list(range(len(frames) + 1))
    assert again[-1].payload == b'{"after":"restart"}'
    assert verify_bundle(bundle.path).ok
