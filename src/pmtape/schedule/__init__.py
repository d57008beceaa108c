"""Per-venue subscription scheduling: HOT + rotating WARM targets, churn-limited diffs.

``active`` reads/writes the discovery snapshot, ``scores`` reads the miner's stats cache,
``scheduler`` turns both into target sets and ``churn`` into rate-limited actions.
"""
