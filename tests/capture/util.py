"""Builders of capture bundles with known contents, shared by the capture tests."""

from __future__ import annotations

from pathlib import Path

from pmtape.capture import FrameKind, RunBundle, WriterOptions
from pmtape.capture.format import FILE_HEADER, IDX_ENTRY, IdxEntry, unpack_idx_entry
from pmtape.core.http import HttpMeta

WALL0 = 1_760_000_000_000_000_000
MONO0 = 5_000_000_000_000
SEC = 1_000_000_000


def payload(i: int, pad: int = 40) -> bytes:
    """Return a small JSON payload carrying its sequence number."""
    return b'{"event_type":"price_change","seq":%d,"pad":"%s"}' % (i, b"x" * pad)


def make_run(
    root: Path,
    run_id: str = "run1",
    *,
    shards: int = 2,
    frames: int = 400,
    step_ns: int = 10_000_000,
    beats: int = 6,
    beat_every_s: float = 1.0,
    lag_ms: tuple[float, ...] = (0.4, 0.9, 1.5),
    block_bytes: int = 2048,
    finish: bool = True,
) -> Path:
    """Write a healthy bundle: frames on every shard, steady heartbeats, small loop lag."""
    bundle = RunBundle.create(root, run_id, {"purpose": "test", "config": {"shards": shards}})
    opts = WriterOptions(block_bytes=block_bytes, threaded=False, fsync=False)
    cap = bundle.open_capture(range(shards), opts)
    for i in range(frames):
        cap.append(
            i % shards,
            FrameKind.WS_TEXT,
            f"ws-{i % shards}",
            payload(i),
            WALL0 + i * step_ns,
            MONO0 + i * step_ns,
        )
    meta = HttpMeta("GET", "http://127.0.0.1/book", 200, 3_000_000, {"token_id": "42"})
    cap.append(
        0,
        FrameKind.HTTP_RESPONSE,
        "rest-0",
        b'{"bids":[]}',
        WALL0 + frames * step_ns,
        MONO0 + frames * step_ns,
        meta,
    )
    cap.close()
    for b in range(beats):
        ts = int(b * beat_every_s * SEC)
        bundle.runlog.write("heartbeat", ts_ns=WALL0 + ts, mono_ns=MONO0 + ts)
        for s in range(shards):
            bundle.metrics(s).write(
                "metrics", ts_ns=WALL0 + ts, mono_ns=MONO0 + ts, shard=s, loop_lag_ms=list(lag_ms)
            )
    if finish:
        bundle.finish()
    else:
        bundle.close()
    return bundle.path


def idx_entries(path: Path) -> list[IdxEntry]:
    """Return every entry of an idx file."""
    data = path.read_bytes()[FILE_HEADER.size :]
    out = []
    for i in range(len(data) // IDX_ENTRY.size):
        entry = unpack_idx_entry(data[i * IDX_ENTRY.size : (i + 1) * IDX_ENTRY.size])
        assert entry is not None
        out.append(entry)
    return out


def flip_byte(path: Path, offset: int) -> None:
    """Invert one byte of a file in place."""
    with path.open("r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))
