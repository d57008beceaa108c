"""The local fake Limitless: its server, HTTP side, stream, wire and fault knobs."""
