"""The sim venue's markets: which binary markets exist at any instant, from a seed alone.

Every market belongs to a *slot* that always has exactly one open market. Long-lived slots
reopen a fresh market (a new generation) when theirs closes after days or weeks, laid out from
a fixed anchor; rolling slots are short series ("Bitcoin Up or Down, 15m") whose market for
window ``w`` is open during ``[w*P, (w+1)*P)``. Nothing depends on the process start time, so
two processes with the same seed agree on every market id, token id and close time.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from hashlib import blake2b
from string import Formatter

import msgspec

from pmtape.venues.sim.constants import (
    ANCHOR_MS,
    FINE_TICK_E6,
    FINE_TICK_SHARE,
    LONG_LIFETIME_DAYS,
    OUTCOMES,
    ROLLING_ASSETS,
    TAG_WEIGHTS,
    TICK_E6,
)

_DAY_MS = 86_400_000
_PARETO_ALPHA = 1.16  # the 80/20 rule: a few markets take most of the flow
_ACTIVITY_CAP = 10_000.0
_ROLLING_BOOST = 4.0  # short crypto series are among the busiest books of a real venue

_FILL: dict[str, tuple[str, ...]] = {
    "person": ("Alex Rivera", "Jordan Blake", "Morgan Hale", "Casey Quinn", "Riley Stone"),
    "place": ("New York", "California", "Ohio", "Texas", "Georgia", "Arizona", "Michigan"),
    "office": ("mayoral", "governor", "senate", "house"),
    "body": ("Senate", "House", "Parliament", "city council"),
    "bill": ("budget bill", "housing act", "AI safety bill", "tariff package"),
    "team": ("Lions", "Hawks", "Rangers", "Comets", "Sharks", "Bears", "Titans", "Owls"),
    "team2": ("Wolves", "Giants", "Pirates", "Kings", "Falcons", "Storm", "Rockets"),
    "league": ("national", "continental", "premier", "world"),
    "coin": ("Bitcoin", "Ethereum", "Solana", "XRP", "Dogecoin"),
    "city": ("Chicago", "Seattle", "Miami", "Denver", "Boston", "Phoenix", "London"),
    "movie": ("Starfall", "The Last Orbit", "Deep Current", "Night Harbor"),
    "artist": ("Nova Ray", "The Pale Lights", "Kid Meridian", "Luna Vale"),
    "company": ("Orbital", "Nimbus", "Quanta", "Helix", "Vertex"),
    "product": ("a foldable phone", "AR glasses", "a new AI model", "a robotaxi service"),
}

_TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "politics": (
        ("Will {person} win the {place} {office} election?", "elections"),
        ("Will the {body} pass the {bill} by {date}?", "legislation"),
        ("Will {person} lead the {place} polls on {date}?", "polls"),
    ),
    "sports": (
        ("Will the {team} beat the {team2} on {date}?", "games"),
        ("Will the {team} win the {league} championship?", "futures"),
    ),
    "crypto": (
        ("Will {coin} close above ${price} on {date}?", "prices"),
        ("Will {coin} hit ${price} before {date}?", "prices"),
    ),
    "economics": (
        ("Will the Fed cut rates at the {month} meeting?", "fed"),
        ("Will US CPI inflation exceed {pct}% in {month}?", "inflation"),
        ("Will US unemployment be above {pct}% in {month}?", "jobs"),
    ),
    "weather": (
        ("Will {city} see more than {n} inches of rain in {month}?", "rain"),
        ("Will the high in {city} exceed {n}°F on {date}?", "temperature"),
    ),
    "culture": (
        ("Will {movie} gross over ${n}M on its opening weekend?", "box-office"),
        ("Will {artist} release a new album before {date}?", "music"),
    ),
    "tech": (
        ("Will {company} release {product} before {date}?", "launches"),
        ("Will {company} be the largest company by market cap on {date}?", "companies"),
    ),
}

_FIELDS = {
    template: tuple(name for _, name, _, _ in Formatter().parse(template) if name)
    for entries in _TEMPLATES.values()
    for template, _ in entries
}
_TAGS = tuple(name for name, _ in TAG_WEIGHTS)
_TAG_CUM = tuple(sum(w for _, w in TAG_WEIGHTS[: i + 1]) for i in range(len(TAG_WEIGHTS)))
_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


class SimMarket(msgspec.Struct, frozen=True, kw_only=True):
    """One binary market of the sim venue (two outcome tokens, one book each)."""

    market_id: str
    slot: int
    title: str
    slug: str
    tags: tuple[str, ...]
    outcomes: tuple[str, str]
    token_ids: tuple[str, str]
    open_ts: int
    close_ts: int
    tick_e6: int
    activity: float
    series: str | None = None

    @property
    def yes_token(self) -> str:
        """Return the token id of the "Yes" outcome."""
        return self.token_ids[0]

    @property
    def no_token(self) -> str:
        """Return the token id of the "No" outcome."""
        return self.token_ids[1]


class SimUniverse:
    """All markets of the sim venue over time, deterministic from the seed."""

    def __init__(
        self,
        seed: int = 7,
        markets: int = 500,
        rolling_share: float = 0.05,
        rolling_period_s: int = 900,
        anchor_ms: int = ANCHOR_MS,
    ) -> None:
        if markets < 1 or not 0.0 <= rolling_share <= 1.0 or rolling_period_s < 1:
            raise ValueError("need markets >= 1, 0 <= rolling_share <= 1, rolling_period_s >= 1")
        self.seed = seed
        self.markets = markets
        self.anchor_ms = anchor_ms
        self.period_ms = rolling_period_s * 1000
        self.n_rolling = round(markets * rolling_share)
        self._first_rolling = markets - self.n_rolling
        rng = random.Random(f"{seed}:slots")
        self._lifetime_ms = [rng.choice(LONG_LIFETIME_DAYS) * _DAY_MS for _ in range(markets)]
        self._phase_ms = [int(rng.random() * life) for life in self._lifetime_ms]
        self._current: list[SimMarket | None] = [None] * markets

    def active_at(self, now_ms: int) -> list[SimMarket]:
        """Return every market open at ``now_ms`` (``open_ts <= now_ms < close_ts``), by slot."""
        return [self.market_at(slot, now_ms) for slot in range(self.markets)]

    def market_at(self, slot: int, now_ms: int) -> SimMarket:
        """Return the market of ``slot`` open at ``now_ms``."""
        cur = self._current[slot]
        if cur is not None and cur.open_ts <= now_ms < cur.close_ts:
            return cur
        if slot >= self._first_rolling:
            cur = self._rolling_market(slot, now_ms // self.period_ms)
        else:
            life = self._lifetime_ms[slot]
            gen = (now_ms - self.anchor_ms + self._phase_ms[slot]) // life
            cur = self._long_market(slot, gen)
        self._current[slot] = cur
        return cur

    def _long_market(self, slot: int, gen: int) -> SimMarket:
        life = self._lifetime_ms[slot]
        open_ts = self.anchor_ms - self._phase_ms[slot] + gen * life
        close_ts = open_ts + life
        market_id = f"sim-m{slot:05d}-g{gen}"
        rng = random.Random(f"{self.seed}:{market_id}")
        tag = _TAGS[_bisect_weight(rng.random() * _TAG_CUM[-1])]
        template, sub = rng.choice(_TEMPLATES[tag])
        title = template.format_map(_fill(rng, close_ts, _FIELDS[template]))
        tick = FINE_TICK_E6 if rng.random() < FINE_TICK_SHARE else TICK_E6
        return SimMarket(
            market_id=market_id,
            slot=slot,
            title=title,
            slug=f"{_slugify(title)}-{slot}-{gen}",
            tags=(tag, sub),
            outcomes=OUTCOMES,
            token_ids=self._token_ids(market_id),
            open_ts=open_ts,
            close_ts=close_ts,
            tick_e6=tick,
            activity=_activity(rng, 1.0),
        )

    def _rolling_market(self, slot: int, window: int) -> SimMarket:
        k = slot - self._first_rolling
        code, name = ROLLING_ASSETS[k % len(ROLLING_ASSETS)]
        lap = k // len(ROLLING_ASSETS)
        if lap:
            code, name = f"{code}{lap + 1}", f"{name} #{lap + 1}"
        minutes = self.period_ms // 60_000
        series = f"{code}-updown-{minutes}m"
        open_ts = window * self.period_ms
        close_ts = open_ts + self.period_ms
        market_id = f"sim-m{slot:05d}-w{window}"
        start, end = _utc(open_ts), _utc(close_ts)
        title = f"{name} Up or Down - {start:%B} {start.day}, {start:%H:%M}-{end:%H:%M} UTC"
        return SimMarket(
            market_id=market_id,
            slot=slot,
            title=title,
            slug=f"{series}-{open_ts // 1000}",
            tags=("crypto", "up-or-down"),
            outcomes=OUTCOMES,
            token_ids=self._token_ids(market_id),
            open_ts=open_ts,
            close_ts=close_ts,
            tick_e6=TICK_E6,
            activity=_activity(random.Random(f"{self.seed}:{market_id}"), _ROLLING_BOOST),
            series=series,
        )

    def _token_ids(self, market_id: str) -> tuple[str, str]:
        # Long decimal strings like Polymarket's ERC-1155 token ids (a 256-bit integer).
        yes, no = (
            str(
                int.from_bytes(
                    blake2b(f"{self.seed}:{market_id}:{o}".encode(), digest_size=32).digest()
                )
            )
            for o in OUTCOMES
        )
        return yes, no


def _bisect_weight(x: float) -> int:
    for i, c in enumerate(_TAG_CUM):
        if x < c:
            return i
    return len(_TAG_CUM) - 1


def _fill(rng: random.Random, close_ts: int, fields: tuple[str, ...]) -> dict[str, str]:
    close = _utc(close_ts)
    fill = {}
    for key in fields:
        if key in _FILL:
            fill[key] = rng.choice(_FILL[key])
        elif key == "date":
            fill[key] = f"{close:%B} {close.day}"
        elif key == "month":
            fill[key] = f"{close:%B}"
        elif key == "price":
            fill[key] = f"{rng.choice((1, 2, 5, 10, 25, 50, 100)) * 1000:,}"
        elif key == "pct":
            fill[key] = f"{rng.randint(20, 60) / 10:.1f}"
        else:
            fill[key] = str(rng.randint(2, 120))
    return fill


def _activity(rng: random.Random, boost: float) -> float:
    return round(min(rng.paretovariate(_PARETO_ALPHA), _ACTIVITY_CAP) * boost, 4)


def _slugify(title: str) -> str:
    return _SLUG_STRIP.sub("-", title.lower()).strip("-")[:80].rstrip("-")


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
