"""Shapes shared by every part of pmtape: instruments, events, books, errors, fixed-point."""
