"""The local fake Polymarket: its server, HTTP side, stream, wire and fault knobs."""
