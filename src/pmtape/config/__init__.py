"""Configuration: pydantic models and the layered loader."""

from pmtape.config.load import load_config, redacted_dict
from pmtape.config.models import Config, VenueConfig

__all__ = ["Config", "VenueConfig", "load_config", "redacted_dict"]
