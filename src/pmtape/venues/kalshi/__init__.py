"""Kalshi: public REST discovery and books, the signed WebSocket (PROTOCOLS.md §2).

One instrument per market: the ticker's YES book (``instrument_id = "YES"``, poll key the
ticker). ``mode = "auto"`` streams ``orderbook_delta`` (and ``trade``) over the WebSocket
when a key is configured — the key id from ``PMTAPE_VENUES__KALSHI__API_KEY_ID``, the PEM
private key from ``private_key_path`` — and polls ``GET /markets/orderbooks`` (plus the
recent ``/markets/trades``) otherwise. Either way one normalizer turns what arrives into
YES-book events, and ``fetch_books`` serves the collector's REST audit.
"""
