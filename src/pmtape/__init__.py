"""pmtape: an open archive of prediction-market order books."""

__version__ = "0.1.0"
