"""The local fake Kalshi: its server, HTTP side, stream, wire and fault knobs."""
