"""Polymarket: Gamma discovery, the CLOB market channel, CLOB REST books (PROTOCOLS.md §1).

``mode = "ws"`` streams the market channel over sharded sockets; ``mode = "rest"`` polls
``/books`` (or ``/book`` per token). Either way the same normalizer turns what arrives into
canonical events keyed by token id, and ``fetch_books`` serves the collector's REST audit.
"""
