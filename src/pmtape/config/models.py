"""The configuration model: every key, its default and its bounds, in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VenueConfig(_Frozen):
    """Keys every venue has: scheduling, snapshot cadence, discovery cadence, credentials."""

    enabled: bool = True
    max_subs: int = Field(200, ge=1, description="cap on HOT + WARM subscriptions")
    hot_count: int = Field(40, ge=0, description="instruments always subscribed")
    rotation_period_secs: float = Field(180.0, gt=0, description="WARM rotation period")
    snapshot_interval_ms_hot: int = Field(2000, ge=10)
    snapshot_interval_ms_warm: int = Field(10000, ge=10)
    subscription_churn_limit_per_minute: int = Field(20, ge=1)
    discovery_interval_secs: float = Field(60.0, gt=0, description="discover --loop cadence")
    stale_after_secs: float = Field(
        600.0, ge=0, description="a book with no update for this long is 'stale' (0: never)"
    )
    # Credentials: set them through the environment (PMTAPE_VENUES__<NAME>__API_KEY, ...),
    # never in the file. They are redacted everywhere pmtape prints or stores config.
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None

    @model_validator(mode="after")
    def _hot_within_max(self) -> VenueConfig:
        if self.hot_count > self.max_subs:
            raise ValueError(f"hot_count ({self.hot_count}) exceeds max_subs ({self.max_subs})")
        return self


class SimVenueConfig(VenueConfig):
    """The built-in synthetic venue: deterministic from ``seed``."""

    markets: int = Field(500, ge=1, le=200_000, description="binary markets (2 books each)")
    updates_per_sec: float = Field(2000.0, gt=0, le=1_000_000, description="mean message rate")
    trade_ratio: float = Field(0.05, ge=0, le=1, description="share of messages that are trades")
    seed: int = 7
    rolling_share: float = Field(
        0.05, ge=0, le=1, description="share of markets in short rolling series (close and reopen)"
    )
    rolling_period_secs: int = Field(900, ge=60, description="lifetime of a rolling-series market")


class VenuesConfig(_Frozen):
    sim: SimVenueConfig = SimVenueConfig()


class WriterConfig(_Frozen):
    flush_rows: int = Field(50_000, ge=1, description="flush a venue's buffer at this many rows")
    flush_secs: float = Field(5.0, gt=0, description="flush at least this often")
    bucket_minutes: int = Field(5, ge=1, le=60, description="file bucket length; divides 60")
    compression_level: int = Field(3, ge=1, le=22, description="zstd level")
    queue_max_batches: int = Field(1024, ge=1, description="writer queue bound (overflow counted)")

    @field_validator("bucket_minutes")
    @classmethod
    def _divides_hour(cls, v: int) -> int:
        if 60 % v:
            raise ValueError("must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)")
        return v


class CollectorConfig(_Frozen):
    log_interval_secs: float = Field(10.0, gt=0, description="periodic status line")
    snapshot_tick_ms: int = Field(50, ge=1, description="snapshotter wake-up granularity")
    state_poll_secs: float = Field(
        5.0, gt=0, description="how often the active snapshot is re-read"
    )


class MinerConfig(_Frozen):
    top_n: int = Field(10, ge=1, description="rows per ranking in the printed summary")
    lookback_hours: int = Field(24, ge=1, description="default range when none is given")


class Config(_Frozen):
    """All of pmtape's settings: defaults < TOML file < PMTAPE_* env < CLI flags."""

    data_dir: Path = Path("data")
    top_k: int = Field(50, ge=1, le=1000, description="levels kept per side in snapshots")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    writer: WriterConfig = WriterConfig()
    collector: CollectorConfig = CollectorConfig()
    miner: MinerConfig = MinerConfig()
    venues: VenuesConfig = VenuesConfig()

    def venue_names(self) -> list[str]:
        """Return the enabled venues, in declaration order."""
        return [name for name in type(self.venues).model_fields if self.venue(name).enabled]

    def venue(self, name: str) -> VenueConfig:
        """Return one venue's section."""
        section = getattr(self.venues, name, None)
        if not isinstance(section, VenueConfig):
            raise KeyError(name)
        return section
