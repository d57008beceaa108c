"""Offline mining of the snapshot archive (Polars) and the stats cache the scheduler reads.

``pmtape.store.stats`` is import-light (no Polars) so the collector can locate the cache;
the miner itself lives in ``pmtape.mine.miner``.
"""
