"""The configuration model: every key, its default and its bounds, in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from pmtape.proc.runner import EventLoopChoice  # stated once, where the loop is chosen
from pmtape.venues.kalshi.settings import KalshiVenueConfig
from pmtape.venues.limitless.settings import LimitlessVenueConfig
from pmtape.venues.polymarket.settings import PolymarketVenueConfig
from pmtape.venues.settings import Frozen, VenueConfig
from pmtape.venues.sim.settings import SimVenueConfig

__all__ = [
    "Config",
    "KalshiVenueConfig",
    "LimitlessVenueConfig",
    "PolymarketVenueConfig",
    "SimVenueConfig",
    "VenueConfig",
]


class VenuesConfig(Frozen):
    """One section per venue; each has the keys of every venue plus its own."""

    sim: SimVenueConfig = SimVenueConfig()
    polymarket: PolymarketVenueConfig = PolymarketVenueConfig()
    kalshi: KalshiVenueConfig = KalshiVenueConfig()
    limitless: LimitlessVenueConfig = LimitlessVenueConfig()


class WriterConfig(Frozen):
    """The Parquet writer: buffering, file buckets, compression."""

    flush_rows: int = Field(50_000, ge=1, description="flush a venue's buffer at this many rows")
    flush_s: float = Field(5.0, gt=0, description="flush at least this often")
    bucket_minutes: int = Field(5, ge=1, le=60, description="file bucket length; divides 60")
    compression_level: int = Field(3, ge=1, le=22, description="zstd level")
    queue_max_batches: int = Field(1024, ge=1, description="writer queue bound (overflow counted)")

    @field_validator("bucket_minutes")
    @classmethod
    def _divides_hour(cls, v: int) -> int:
        if 60 % v:
            raise ValueError("must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)")
        return v


class CaptureConfig(Frozen):
    """The raw capture every collector run writes (captures/RUN_ID/)."""

    enabled: bool = Field(True, description="record every frame and HTTP body (--no-capture)")
    flush_interval_s: float = Field(1.0, gt=0, le=60, description="a crash loses at most this")
    segment_max_mb: int = Field(1024, ge=1, description="rotate a shard's segment at this size")
    segment_max_s: float = Field(3600.0, gt=0, description="... or after this long")
    zstd_level: int = Field(1, ge=1, le=22, description="zstd level of capture blocks")


class CollectorConfig(Frozen):
    """The live collector's loop: status lines, snapshot ticks, active-set polling."""

    log_interval_s: float = Field(10.0, gt=0, description="periodic status line")
    snapshot_tick_ms: int = Field(50, ge=1, description="snapshotter wake-up granularity")
    state_poll_s: float = Field(5.0, gt=0, description="how often the active snapshot is re-read")
    pair_tolerance: float = Field(
        0.01,
        ge=0,
        lt=1,
        description="binary pair audit: how far YES bid + NO ask may drift from 1 (err pair_drift)",
    )
    event_loop: EventLoopChoice = Field(
        "auto", description="event loop of `pmtape collect`: uvloop where installed (auto)"
    )
    coverage_interval_s: float = Field(
        60.0,
        ge=0.1,
        le=3600,
        description="time unit of the coverage ledger (a minute; shorter only for tests)",
    )


class MinerConfig(Frozen):
    """`pmtape mine`: the printed rankings and the default range."""

    top_n: int = Field(10, ge=1, description="rows per ranking in the printed summary")
    lookback_hours: int = Field(24, ge=1, description="default range when none is given")


class Config(Frozen):
    """All of pmtape's settings: defaults < TOML file < PMTAPE_* env < CLI flags."""

    data_dir: Path = Field(
        Path("data"), description="root of the archive (README: Where the files go)"
    )
    top_k: int = Field(50, ge=1, le=1000, description="levels kept per side in snapshots")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="lowest level of log lines written to stderr"
    )
    writer: WriterConfig = WriterConfig()
    collector: CollectorConfig = CollectorConfig()
    capture: CaptureConfig = CaptureConfig()
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
