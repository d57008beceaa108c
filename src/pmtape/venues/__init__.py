"""Venue adapters. Only this package knows venue names; everything else goes through base.py."""
