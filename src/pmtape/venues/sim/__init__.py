"""The built-in synthetic venue ``sim``: deterministic binary markets, in process, no network.

Discovery and every session of one adapter describe the same universe (seed, market count,
rolling series, fixed anchor), so the tokens discovered are the tokens a session streams,
even when discovery and collection run in different processes.
"""
