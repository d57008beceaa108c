"""The archive: Arrow row builders, bucketed atomic Parquet files, the writer thread, JSONL logs."""

from pmtape.store.atomic import atomic_write_bytes, atomic_write_json, cleanup_stale_tmp
from pmtape.store.files import read_snapshots, read_table, write_bucket
from pmtape.store.jsonl import JsonlWriter, append_jsonl, iter_jsonl
from pmtape.store.layout import SNAPSHOTS, TRADES, bucket_start_ms, snapshot_path
from pmtape.store.parquet import ParquetSink
from pmtape.store.rows import SNAPSHOT_SCHEMA, TRADE_SCHEMA, SnapshotBatch, TradeBatch

__all__ = [
    "SNAPSHOTS",
    "SNAPSHOT_SCHEMA",
    "TRADES",
    "TRADE_SCHEMA",
    "JsonlWriter",
    "ParquetSink",
    "SnapshotBatch",
    "TradeBatch",
    "append_jsonl",
    "atomic_write_bytes",
    "atomic_write_json",
    "bucket_start_ms",
    "cleanup_stale_tmp",
    "iter_jsonl",
    "read_snapshots",
    "read_table",
    "snapshot_path",
    "write_bucket",
]
