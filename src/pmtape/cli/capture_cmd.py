"""``pmtape capture …``: verify, inspect, audit, report on, slice, bench and gate run bundles."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pmtape.capture import (
    WriterOptions,
    inspect_bundle,
    make_filter,
    resolve_run_dir,
    run_bench,
    slice_bundle,
    verify_bundle,
)
from pmtape.capture.options import DEFAULT_ZSTD_LEVEL
from pmtape.capture.tools import InspectResult
from pmtape.capture.verify import SegmentCheck, VerifyResult
from pmtape.cli.common import ConfigOpt, DataDirOpt, build_config, cli_errors
from pmtape.ops import GateThresholds, audit_runlog, run_gate, write_latency_report
from pmtape.ops.reports import render_latency_text

capture_app = typer.Typer(
    help="Check, inspect, report on and cut capture run bundles (data/captures/RUN_ID).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

RunArg = Annotated[
    str, typer.Argument(help="Run bundle directory, or a run id under DATA_DIR/captures.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="From this time (ISO-8601 UTC or epoch s/ms/ns).")
]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Up to this time (exclusive).")]
StreamOpt = Annotated[
    list[str] | None, typer.Option("--stream", help="Only this stream id (repeatable).")
]
KindOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--kind", help="Only this kind: ws_text, ws_binary, http_response, ... (repeatable)."
    ),
]
_SHOWN = 10
AllowDamageOpt = Annotated[
    bool,
    typer.Option(
        "--allow-damage", help="Exit 0 even if damaged or missing blocks were skipped (named)."
    ),
]


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True, markup=False)  # ids may hold "["


def _echo_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def _run_dir(run: str, config: Path | None, data_dir: Path | None) -> Path:
    """Resolve RUN, looking run ids up under data_dir (default < file < env < --data-dir)."""
    return resolve_run_dir(run, build_config(config, data_dir, None, None).data_dir)


@capture_app.command("verify")
@cli_errors
def verify_cmd(
    run: RunArg,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    json_out: JsonOpt = False,
    summary_only: Annotated[
        bool, typer.Option("--summary-only", help="Only the totals, not every segment.")
    ] = False,
) -> None:
    """Check checksums, idx, numbering, and that no frame recorded as written is missing.

    Exit 1 on any damage or loss (each named: shard, file, blocks, bytes, frames). A torn
    tail after a crash is named but does not fail unless frames recorded as written are gone.
    """
    res = verify_bundle(_run_dir(run, config, data_dir))
    if json_out:
        _echo_json(res.to_dict(summary_only))
    else:
        _print_verify(res, summary_only)
    if not res.ok:
        raise typer.Exit(1)


def _print_verify(res: VerifyResult, summary_only: bool) -> None:
    out = _out()
    if not summary_only and res.segments:
        out.print(_segments_table(res.segments))
    t = res.totals
    out.print(
        f"{t['shards']} shards, {t['segments']} segments, {t['blocks']} blocks, "
        f"{t['frames']} frames; missing {t['missing_blocks']} blocks, {t['missing_frames']} "
        f"frames; crc_mismatch {t['crc_mismatch']}, idx_mismatch {t['idx_mismatch']}, "
        f"torn tail {t['torn_tail_bytes']} B"
    )
    for err in res.errors[:_SHOWN]:
        out.print(f"  {err}")
    if len(res.errors) > _SHOWN:
        out.print(f"  … and {t['errors'] - _SHOWN} more (--json lists up to 100)")
    for note in res.notes[:_SHOWN]:
        out.print(f"  note: {note}")
    out.print("OK" if res.ok else f"FAILED: {res.first_error}")


def _segments_table(segments: list[SegmentCheck]) -> Table:
    table = Table("file", "blocks", "frames", "payload MB", "disk MB", "crc bad", "idx bad")
    for s in segments:
        cells = (s.blocks, s.frames, f"{s.payload_bytes / 1e6:.2f}", f"{s.disk_bytes / 1e6:.2f}")
        table.add_row(s.file, *map(str, cells), str(s.crc_mismatch), str(s.idx_mismatch))
    return table


@capture_app.command("inspect")
@cli_errors
def inspect_cmd(
    run: RunArg,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    json_out: JsonOpt = False,
    shard: Annotated[list[int] | None, typer.Option("--shard", help="Only this shard.")] = None,
    stream: StreamOpt = None,
    kind: KindOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 20,
    full: Annotated[bool, typer.Option("--full", help="Print whole payloads, indented.")] = False,
    allow_damage: AllowDamageOpt = False,
) -> None:
    """List frames in replay order, payloads decoded as JSON where they are JSON.

    Damaged or missing blocks met on the way are skipped and named; exit 1 if there were
    any, unless --allow-damage.
    """
    flt = make_filter(since, until, stream, kind)
    res = inspect_bundle(_run_dir(run, config, data_dir), flt, shard, limit)
    if json_out:
        _echo_json(res.to_dict())
    else:
        _print_inspect(res, full)
    if res.damage and not allow_damage:
        raise typer.Exit(1)


def _print_inspect(res: InspectResult, full: bool) -> None:
    out = _out()
    shards = ", ".join(f"{s:02d}" for s in res.shards) or "none"
    out.print(
        f"shards {shards}; showing {res.shown} frames{' (more match)' if res.truncated else ''}"
    )
    for f in res.frames:
        out.print(
            f"{f['shard']:02d}#{f['index']} {f['rx_utc']} {f['kind']} "
            f"{f['stream']} {f['bytes']} B" + (f" {_http_line(f['http'])}" if f["http"] else "")
        )
        out.print(_payload_text(f, full))
    for d in res.damage:
        out.print(f"skipped: {d}")
    if res.damage:
        out.print(f"{len(res.damage)} damaged or missing ranges skipped")


def _http_line(http: dict[str, Any]) -> str:
    return (
        f"{http['method']} {http['url']} -> {http['status']} in {http['latency_ns'] / 1e6:.1f} ms"
    )


def _payload_text(view: dict[str, Any], full: bool) -> str:
    payload = view["payload"]
    if view["payload_encoding"] == "json":
        text = json.dumps(
            payload, indent=2 if full else None, separators=None if full else (",", ":")
        )
    else:
        text = f"({view['payload_encoding']}) {payload}"
    return text if full or len(text) <= 200 else text[:200] + "…"


@capture_app.command("audit")
@cli_errors
def audit_cmd(
    run: RunArg,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    json_out: JsonOpt = False,
    gap_s: Annotated[float, typer.Option("--gap-s", help="Report heartbeat gaps over this.")] = 2.0,
) -> None:
    """Report heartbeat gaps in the runlog over a threshold."""
    res = audit_runlog(_run_dir(run, config, data_dir), gap_s)
    if json_out:
        _echo_json(res.to_dict())
        return
    out = _out()
    out.print(
        f"{res.heartbeats} heartbeats; gaps over {gap_s:g} s: {res.gaps_over_threshold} "
        f"(longest {res.max_gap_s:g} s); bad lines {res.bad_lines}"
    )
    for gap in res.gaps:
        out.print(
            f"  shard {gap['shard']}: {gap['from_utc']} -> {gap['to_utc']} ({gap['gap_s']} s)"
        )


@capture_app.command("latency-report")
@cli_errors
def latency_report_cmd(
    run: RunArg,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    json_out: JsonOpt = False,
    pressure_s: Annotated[
        float, typer.Option("--pressure-s", help="A pressure streak this long fails.")
    ] = 5.0,
) -> None:
    """Write latency_report.json and latency_report.txt into the bundle and print it."""
    report = write_latency_report(_run_dir(run, config, data_dir), pressure_s)
    if json_out:
        _echo_json(report)
    else:
        _out().print(render_latency_text(report), end="")


@capture_app.command("slice")
@cli_errors
def slice_cmd(
    run: RunArg,
    out: Annotated[
        str, typer.Option("--out", "-o", help="New bundle: a path, or a run id beside the source.")
    ],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    json_out: JsonOpt = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    stream: StreamOpt = None,
    kind: KindOpt = None,
) -> None:
    """Cut a time range (and optionally streams/kinds) into a new bundle, then verify it."""
    src = _run_dir(run, config, data_dir)
    dest = Path(out) if "/" in out else src.parent / out
    res = slice_bundle(src, dest, make_filter(since, until, stream, kind))
    check = verify_bundle(dest)
    if json_out:
        _echo_json({**res.to_dict(), "verify": check.to_dict(summary_only=True)})
    else:
        _out().print(
            f"sliced {res.frames} frames, {res.runlog_records} runlog and "
            f"{res.metrics_records} metrics records into {res.dest}; "
            f"verify {'OK' if check.ok else 'FAILED: ' + str(check.first_error)}"
        )
    if not check.ok:
        raise typer.Exit(1)


@capture_app.command("bench")
@cli_errors
def bench_cmd(
    run: Annotated[
        Path | None, typer.Argument(help="Write the bench bundle here (default: a temp dir).")
    ] = None,
    json_out: JsonOpt = False,
    frames: Annotated[int, typer.Option("--frames", min=1000, help="Frames to write.")] = 200_000,
    level: Annotated[int, typer.Option("--level", help="zstd level.")] = DEFAULT_ZSTD_LEVEL,
    block_kib: Annotated[int, typer.Option("--block-kib", min=4, help="Block size.")] = 1024,
) -> None:
    """Measure write and read throughput on synthetic market-channel frames."""
    opts = WriterOptions(zstd_level=level, block_bytes=block_kib * 1024)
    if run is None:
        with tempfile.TemporaryDirectory(prefix="pmtape-bench-") as tmp:
            res = run_bench(Path(tmp) / "bench", frames, opts)
    else:
        res = run_bench(run, frames, opts)
    if json_out:
        _echo_json(res.to_dict())
        return
    out = _out()
    for key, value in res.to_dict().items():
        out.print(f"{key:<26} {value}")


@capture_app.command("gate")
@cli_errors
def gate_cmd(
    run: RunArg,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    json_out: JsonOpt = False,
    gap_s: Annotated[float, typer.Option("--gap-s", help="Heartbeat gap limit.")] = 2.0,
    lag_p99_ms: Annotated[float, typer.Option("--lag-p99-ms", help="Loop lag p99 limit.")] = 10.0,
    lag_max_ms: Annotated[float, typer.Option("--lag-max-ms", help="Loop lag max limit.")] = 100.0,
    pressure_s: Annotated[float, typer.Option("--pressure-s", help="Pressure streak limit.")] = 5.0,
) -> None:
    """Apply the quality gates; print PASS or FAIL with reasons, exit 1 on FAIL."""
    limits = GateThresholds(gap_s, lag_p99_ms, lag_max_ms, pressure_s)
    res = run_gate(_run_dir(run, config, data_dir), limits)
    if json_out:
        _echo_json(res.to_dict())
    else:
        out = _out()
        out.print("PASS" if res.passed else "FAIL")
        for reason in res.reasons:
            out.print(f"  - {reason}")
    if not res.passed:
        raise typer.Exit(1)
