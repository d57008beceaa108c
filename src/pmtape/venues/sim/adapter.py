"""The built-in synthetic venue ``sim``: deterministic binary markets, in process, no network.

Discovery and every session of one adapter describe the same universe (seed, market count,
rolling series, fixed anchor), so the tokens discovered are the tokens a session streams,
even when discovery and collection run in different processes.
"""

from __future__ import annotations

from pmtape.net.session import VenueSession
from pmtape.venues.base import DiscoveryResult, Normalizer, VenueAdapter
from pmtape.venues.sim.constants import VENUE
from pmtape.venues.sim.discovery import discover_sim, universe_for
from pmtape.venues.sim.generator import SimGenerator
from pmtape.venues.sim.normalize import SimNormalizer
from pmtape.venues.sim.settings import SimVenueConfig
from pmtape.venues.sim.ws import SimSession


class SimAdapter(VenueAdapter):
    """The sim venue, built from its ``[venues.sim]`` config section."""

    name = VENUE

    config: SimVenueConfig

    def __init__(self, config: SimVenueConfig | None = None) -> None:
        super().__init__(config if config is not None else SimVenueConfig.model_validate({}))
        self._universe = universe_for(self.config)

    async def discover(self, now_ms: int) -> DiscoveryResult:
        """Return the sim markets open at ``now_ms``."""
        return discover_sim(self.config, now_ms, self._universe)

    def new_session(self) -> VenueSession:
        """Return a fresh live session over its own copy of the universe."""
        cfg = self.config
        generator = SimGenerator(universe_for(cfg), cfg.seed, trade_ratio=cfg.trade_ratio)
        # Small chunks keep the simulated venue from holding the loop for long stretches.
        return SimSession(generator, cfg.updates_per_sec, max_chunk=250)

    def new_normalizer(self) -> Normalizer:
        """Return a fresh sim normalizer."""
        return SimNormalizer()
