"""The settings every venue takes: its section of the config file, validated, frozen.

A venue owns its settings model (``venues/<v>/settings.py``, a subclass of ``VenueConfig``),
so its defaults (the real URLs, the documented rate limits) are stated once, beside the
venue's other facts; ``pmtape.config`` composes the sections into the whole tree, and a
venue is handed only its own section, never the tree.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class Frozen(BaseModel):
    """A settings model: unknown keys are errors, values never change after validation."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class VenueConfig(Frozen):
    """Keys every venue has: scheduling, snapshot cadence, discovery cadence, credentials."""

    enabled: bool = Field(True, description="collect and discover this venue")
    max_subs: int = Field(200, ge=1, description="cap on HOT + WARM subscriptions")
    hot_count: int = Field(40, ge=0, description="instruments always subscribed")
    rotation_period_s: float = Field(180.0, gt=0, description="WARM rotation period")
    snapshot_interval_ms_hot: int = Field(
        2000, ge=10, description="snapshot cadence of a HOT book, in milliseconds"
    )
    snapshot_interval_ms_warm: int = Field(
        10000, ge=10, description="snapshot cadence of a WARM book, in milliseconds"
    )
    subscription_churn_limit_per_minute: int = Field(
        20, ge=1, description="subscribe + unsubscribe requests per minute at most"
    )
    discovery_interval_s: float = Field(60.0, gt=0, description="discover --loop cadence")
    stale_after_s: float = Field(
        600.0, ge=0, description="a book with no update for this long is 'stale' (0: never)"
    )
    audit_every_minutes: float = Field(
        0.0, ge=0, description="compare a sample of live books with REST this often (0: never)"
    )
    audit_sample: int = Field(20, ge=1, description="books per audit")
    # Credentials: set them through the environment (PMTAPE_VENUES__<NAME>__API_KEY, ...),
    # never in the file. They are redacted everywhere pmtape prints or stores config.
    api_key: SecretStr | None = Field(None, description="API key (environment only)")
    api_secret: SecretStr | None = Field(None, description="API secret (environment only)")

    @model_validator(mode="after")
    def _hot_within_max(self) -> VenueConfig:
        if self.hot_count > self.max_subs:
            raise ValueError(f"hot_count ({self.hot_count}) exceeds max_subs ({self.max_subs})")
        return self
