"""Backfill of venue history: fetch workers, cursors, bronze Parquet, ledger."""
