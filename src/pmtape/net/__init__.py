"""Venue-agnostic networking: backoff, token buckets, an HTTP client, sharded WebSocket and
REST-polling sessions. Venues supply URLs, limits and a few hooks; nothing here names one."""
