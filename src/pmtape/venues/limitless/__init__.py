"""Limitless: active CLOB markets, order books polled over REST or fed over Socket.IO (§3).

One instrument per CLOB market (``instrument_id = "BOOK"``, market id and poll key the
slug). ``mode = "rest"`` (the default) polls ``/markets/{slug}/orderbook`` per market with
per-market backoff, fetching each market object once first so that the normalizer can key
the books (they name only their YES token); ``mode = "ws"`` follows the Socket.IO feed,
whose every update is a complete book. One normalizer serves both, and ``fetch_books`` the
collector's REST audit.
"""
