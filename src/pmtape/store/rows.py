"""Arrow schemas of the archive's tables and the columnar builders the hot path fills.

Builders keep one Python list per scalar column and the top-K list columns as flat ``array('q')``
e6 buffers plus per-row lengths. Nothing becomes Arrow until ``to_table()``, which converts each
column once with numpy; building Arrow from per-row dicts would cost about half the throughput
(see PERFORMANCE.md).

``venue`` is stored dictionary-encoded (``dictionary<int32, string>``): it is also the Hive
partition folder ``venue=V`` above every file, and pyarrow (so pandas) infers partition folders
as exactly that type. With a plain string column in the files, pyarrow refuses to merge the two
fields and ``pd.read_parquet(<table dir>)`` fails; with this type the two fields unify, while
Polars and DuckDB read the column from the file. Every row of a file holds the same venue, so
the dictionary is one entry long.
"""

from __future__ import annotations

from array import array

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from pmtape.core.book import Book
from pmtape.core.errors import StoreError
from pmtape.core.events import Trade
from pmtape.core.fixed import SCALE
from pmtape.core.snapshot import AUDIT_ERR_PREFIX, SNAPSHOT_COLUMNS, SnapshotRow

_F64_LIST = pa.list_(pa.float64())
VENUE_TYPE: pa.DataType = pa.dictionary(pa.int32(), pa.string())
"""The type of the ``venue`` column in the files: the type pyarrow infers for partition folders."""
_MAX_LIST_VALUES = (1 << 31) - 1


def _required(name: str, type_: pa.DataType) -> pa.Field:
    return pa.field(name, type_, nullable=False)


SNAPSHOT_SCHEMA: pa.Schema = pa.schema(
    [
        _required("ts_recv", pa.int64()),
        _required("venue", VENUE_TYPE),
        _required("market_id", pa.string()),
        _required("outcome_id", pa.string()),
        _required("seq", pa.int64()),
        _required("best_bid_px", pa.float64()),
        _required("best_bid_sz", pa.float64()),
        _required("best_ask_px", pa.float64()),
        _required("best_ask_sz", pa.float64()),
        _required("mid", pa.float64()),
        _required("spread", pa.float64()),
        _required("bid_px", _F64_LIST),
        _required("bid_sz", _F64_LIST),
        _required("ask_px", _F64_LIST),
        _required("ask_sz", _F64_LIST),
        _required("status", pa.string()),
        pa.field("err", pa.string(), nullable=True),
        pa.field("source_ts", pa.int64(), nullable=True),
    ]
)
if tuple(SNAPSHOT_SCHEMA.names) != SNAPSHOT_COLUMNS:  # pragma: no cover - import-time guard
    raise StoreError("SNAPSHOT_SCHEMA drifted from core.snapshot.SNAPSHOT_COLUMNS")

TRADE_SCHEMA: pa.Schema = pa.schema(
    [
        _required("ts_recv", pa.int64()),
        _required("venue", VENUE_TYPE),
        _required("market_id", pa.string()),
        _required("outcome_id", pa.string()),
        _required("seq", pa.int64()),
        _required("px", pa.float64()),
        _required("sz", pa.float64()),
        pa.field("side", pa.string(), nullable=True),
        pa.field("trade_id", pa.string(), nullable=True),
        pa.field("source_ts", pa.int64(), nullable=True),
    ]
)


def venue_array(values: list[str]) -> pa.DictionaryArray:
    """Return ``values`` as a ``venue`` column (``VENUE_TYPE``)."""
    encoded: pa.DictionaryArray = pa.array(values, type=pa.string()).dictionary_encode()
    return encoded


def _int64(values: list[int]) -> npt.NDArray[np.int64]:
    return np.array(values, dtype=np.int64)


def _e6_to_f64(values: array[int]) -> npt.NDArray[np.float64]:
    # int64 -> float64 is exact below 2**53; the division is then IEEE correctly rounded,
    # the same double as Python's ``px_e6 / 1_000_000``.
    return np.frombuffer(values, dtype=np.int64) / SCALE


def _offsets(lengths: list[int]) -> npt.NDArray[np.int32]:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] > _MAX_LIST_VALUES:
        raise StoreError("snapshot batch too large for one Arrow list column; flush more often")
    return offsets.astype(np.int32)


def _best(
    values: npt.NDArray[np.float64], offsets: npt.NDArray[np.int32]
) -> npt.NDArray[np.float64]:
    """Return each row's first list element, NaN where the row's list is empty."""
    starts = offsets[:-1]
    present = offsets[1:] > starts
    best = np.full(len(starts), np.nan)
    best[present] = values[starts[present]]
    return best


def instrument_time_order(
    market_id: pa.Array | pa.ChunkedArray,
    outcome_id: pa.Array | pa.ChunkedArray,
    ts_recv: npt.NDArray[np.int64],
    seq: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Return the stable row order by (market_id, outcome_id, ts_recv, seq).

    Strings are ranked through their dictionary (a few thousand distinct ids at most), so the
    sort itself runs on integers: about twice as fast as sorting the string columns.
    """
    keys = [seq, ts_recv]
    for ids in (outcome_id, market_id):
        encoded = pc.dictionary_encode(ids)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        names = np.array(encoded.dictionary.to_pylist(), dtype=object)
        rank = np.empty(len(names), dtype=np.int64)
        rank[np.argsort(names, kind="stable")] = np.arange(len(names))
        keys.append(rank[encoded.indices.to_numpy()])
    return np.lexsort(keys).astype(np.int64)


def gather_plan(
    offsets: npt.NDArray[np.int64], positions: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
    """Return (new offsets, value index) that reorder list rows into ``positions`` order."""
    lengths = np.diff(offsets)[positions]
    ends = np.cumsum(lengths)
    new_offsets = np.concatenate(([0], ends)).astype(np.int32)
    # The gather index runs +1 within a row and jumps between rows: write the steps into one
    # array and integrate in place (one big allocation; page faults dominate on small VMs).
    full = lengths > 0
    src = offsets[:-1][positions][full]
    dst = (ends - lengths)[full]
    index = np.ones(int(ends[-1]) if len(ends) else 0, dtype=np.int64)
    if len(src):
        index[0] = src[0]
        index[dst[1:]] = src[1:] - (src[:-1] + lengths[full][:-1] - 1)
        np.cumsum(index, out=index)
    return new_offsets, index


class _Side:
    """One side's top-K prices and sizes of every row: flat e6 values plus per-row lengths."""

    __slots__ = ("lengths", "px", "sz")

    def __init__(self) -> None:
        self.px: array[int] = array("q")
        self.sz: array[int] = array("q")
        self.lengths: list[int] = []

    def extend(self, other: _Side) -> None:
        self.px.extend(other.px)
        self.sz.extend(other.sz)
        self.lengths += other.lengths

    def arrays(
        self, order: npt.NDArray[np.int64] | None = None
    ) -> tuple[pa.Array, pa.Array, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Return the px and sz list arrays and each row's best px and sz (rows in ``order``)."""
        offsets = _offsets(self.lengths)
        if order is None:
            px = _e6_to_f64(self.px)
            sz = _e6_to_f64(self.sz)
        else:
            # Reorder the e6 integers while converting them: one pass instead of two.
            offsets, index = gather_plan(offsets.astype(np.int64), order)
            px = np.frombuffer(self.px, dtype=np.int64)[index] / SCALE
            sz = np.frombuffer(self.sz, dtype=np.int64)[index] / SCALE
        arrow_offsets = pa.array(offsets, type=pa.int32())
        return (
            pa.ListArray.from_arrays(arrow_offsets, pa.array(px), type=_F64_LIST),
            pa.ListArray.from_arrays(arrow_offsets, pa.array(sz), type=_F64_LIST),
            _best(px, offsets),
            _best(sz, offsets),
        )


def _to_e6(values: list[float]) -> list[int]:
    return [round(v * SCALE) for v in values]


AUDIT_CROSSED = "crossed"
"""Best bid at or above best ask (a locked or crossed book)."""
AUDIT_PX_RANGE = "px_range"
"""A kept level's price outside (0, 1) exclusive."""
AUDIT_SIZE = "size"
"""A kept level's size zero or negative."""
AUDIT_OFF_TICK = "off_tick"
"""A kept level's price not a multiple of the instrument's tick."""
AUDIT_PAIR_DRIFT = "pair_drift"
"""YES bid + NO ask (or YES ask + NO bid) of a binary pair further from 1 than the tolerance."""
AUDITS = (AUDIT_CROSSED, AUDIT_PX_RANGE, AUDIT_SIZE, AUDIT_OFF_TICK, AUDIT_PAIR_DRIFT)


def audit_levels(
    bid_px: list[int], bid_sz: list[int], ask_px: list[int], ask_sz: list[int], tick_e6: int = 0
) -> list[str] | None:
    """Return the invariants the top-K levels (e6, bids descending, asks ascending) break.

    The sides come sorted from the book, so the price range is checked at each side's ends;
    sizes with one ``min`` per side (C loops). ``tick_e6`` 0: tick unknown, not audited.
    """
    bad: list[str] | None = None
    if bid_px:
        if (
            bid_px[0] >= SCALE
            or bid_px[-1] <= 0
            or (ask_px and (ask_px[0] <= 0 or ask_px[-1] >= SCALE))
        ):
            bad = [AUDIT_PX_RANGE]
        if ask_px and bid_px[0] >= ask_px[0]:
            bad = [AUDIT_CROSSED] if bad is None else [AUDIT_CROSSED, *bad]
    elif ask_px and (ask_px[0] <= 0 or ask_px[-1] >= SCALE):
        bad = [AUDIT_PX_RANGE]
    if (bid_sz and min(bid_sz) <= 0) or (ask_sz and min(ask_sz) <= 0):
        bad = [AUDIT_SIZE] if bad is None else [*bad, AUDIT_SIZE]
    if tick_e6 > 1 and (any(p % tick_e6 for p in bid_px) or any(p % tick_e6 for p in ask_px)):
        bad = [AUDIT_OFF_TICK] if bad is None else [*bad, AUDIT_OFF_TICK]
    return bad


def pair_drifts(bid_px: list[int], ask_px: list[int], other: Book, tolerance_e6: int) -> bool:
    """Return whether this book's best and its binary sibling's best disagree beyond tolerance.

    For a YES/NO pair, YES bid + NO ask and YES ask + NO bid should each be 1.
    """
    other_ask = other.asks.prices(1)
    if bid_px and other_ask and abs(bid_px[0] + other_ask[0] - SCALE) > tolerance_e6:
        return True
    other_bid = other.bids.prices(1)
    return bool(ask_px and other_bid and abs(ask_px[0] + other_bid[0] - SCALE) > tolerance_e6)


class SnapshotBatch:
    """Columnar builder of ``orderbook_snapshots`` rows.

    best_*, mid and spread are derived from the lists in ``to_table()``, vectorized.
    """

    __slots__ = (
        "_asks",
        "_bids",
        "err",
        "market_id",
        "outcome_id",
        "seq",
        "source_ts",
        "status",
        "ts_recv",
        "venue",
    )

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Drop every row, keeping the builder for reuse."""
        self.ts_recv: list[int] = []
        self.venue: list[str] = []
        self.market_id: list[str] = []
        self.outcome_id: list[str] = []
        self.seq: list[int] = []
        self.status: list[str] = []
        self.err: list[str | None] = []
        self.source_ts: list[int | None] = []
        self._bids = _Side()
        self._asks = _Side()

    def __len__(self) -> int:
        return len(self.ts_recv)

    def append_book(
        self,
        ts_recv_ms: int,
        venue: str,
        market_id: str,
        outcome_id: str,
        book: Book,
        now_ms: int,
        stale_after_ms: int | None,
        tick_e6: int = 0,
        pair: Book | None = None,
        pair_tolerance_e6: int = 0,
    ) -> list[str] | None:
        """Append one top-K snapshot of ``book``, stamped ``ts_recv_ms``; return failed audits.

        A row that fails an invariant audit keeps its status and carries the audits in ``err``
        (``audit: crossed,off_tick``, after the status reason if there is one). ``pair`` is the
        other book of a binary market, audited for drift unless either book is stale.
        """
        k = book.top_k
        bid_top = book.bids.prices(k)
        ask_top = book.asks.prices(k)
        bid_sz = book.bids.sizes(k)
        ask_sz = book.asks.sizes(k)
        bids = self._bids
        asks = self._asks
        # fromlist() converts while the levels are still in cache: about half the total cost of
        # keeping Python ints in lists and converting them later.
        bids.px.fromlist(bid_top)
        bids.sz.fromlist(bid_sz)
        bids.lengths.append(len(bid_top))
        asks.px.fromlist(ask_top)
        asks.sz.fromlist(ask_sz)
        asks.lengths.append(len(ask_top))
        status, err = book.status(now_ms, stale_after_ms)
        bad = audit_levels(bid_top, bid_sz, ask_top, ask_sz, tick_e6)
        if (
            pair is not None
            and status != "stale"
            and pair.stale_reason is None
            and pair.last_recv_ms is not None
            and pair_drifts(bid_top, ask_top, pair, pair_tolerance_e6)
        ):
            bad = [AUDIT_PAIR_DRIFT] if bad is None else [*bad, AUDIT_PAIR_DRIFT]
        if bad is not None:
            why = AUDIT_ERR_PREFIX + ",".join(bad)
            err = why if err is None else f"{err}; {why}"
        self.ts_recv.append(ts_recv_ms)
        self.venue.append(venue)
        self.market_id.append(market_id)
        self.outcome_id.append(outcome_id)
        self.seq.append(book.seq)
        self.status.append(status)
        self.err.append(err)
        self.source_ts.append(book.source_ts_ms)
        return bad

    def append_row(self, row: SnapshotRow) -> None:
        """Append a ready-made row; lists are kept to 6 decimals and best/mid/spread re-derived."""
        if len(row.bid_px) != len(row.bid_sz) or len(row.ask_px) != len(row.ask_sz):
            raise StoreError("bid/ask price and size lists differ in length")
        for side, px, sz in (
            (self._bids, row.bid_px, row.bid_sz),
            (self._asks, row.ask_px, row.ask_sz),
        ):
            side.px.fromlist(_to_e6(px))
            side.sz.fromlist(_to_e6(sz))
            side.lengths.append(len(px))
        self.ts_recv.append(row.ts_recv)
        self.venue.append(row.venue)
        self.market_id.append(row.market_id)
        self.outcome_id.append(row.outcome_id)
        self.seq.append(row.seq)
        self.status.append(row.status)
        self.err.append(row.err)
        self.source_ts.append(row.source_ts)

    def extend(self, other: SnapshotBatch) -> None:
        """Append every row of ``other`` (which is left unchanged)."""
        self.ts_recv += other.ts_recv
        self.venue += other.venue
        self.market_id += other.market_id
        self.outcome_id += other.outcome_id
        self.seq += other.seq
        self.status += other.status
        self.err += other.err
        self.source_ts += other.source_ts
        self._bids.extend(other._bids)
        self._asks.extend(other._asks)

    def to_table(self, *, sort: bool = False) -> pa.Table:
        """Return the rows as a table of ``SNAPSHOT_SCHEMA``; ``sort``: in archive order."""
        strings = {
            name: pa.array(getattr(self, name), type=pa.string())
            for name in ("market_id", "outcome_id", "status", "err")
        }
        strings["venue"] = venue_array(self.venue)
        ts_recv = _int64(self.ts_recv)
        seq = _int64(self.seq)
        source_ts = pa.array(self.source_ts, type=pa.int64())
        order = None
        if sort and len(ts_recv) > 1:
            order = instrument_time_order(strings["market_id"], strings["outcome_id"], ts_recv, seq)
            if bool(np.all(order[1:] > order[:-1])):
                order = None  # already in order
        if order is not None:
            ts_recv = ts_recv[order]
            seq = seq[order]
            taken = pa.array(order)
            strings = {name: arr.take(taken) for name, arr in strings.items()}
            source_ts = source_ts.take(taken)
        bid_px, bid_sz, best_bid_px, best_bid_sz = self._bids.arrays(order)
        ask_px, ask_sz, best_ask_px, best_ask_sz = self._asks.arrays(order)
        # NaN propagates: mid and spread are NaN unless both sides exist.
        mid = (best_bid_px + best_ask_px) / 2
        spread = best_ask_px - best_bid_px
        floats = (best_bid_px, best_bid_sz, best_ask_px, best_ask_sz, mid, spread)
        columns = [
            pa.array(ts_recv),
            strings["venue"],
            strings["market_id"],
            strings["outcome_id"],
            pa.array(seq),
            *(pa.array(values) for values in floats),
            bid_px,
            bid_sz,
            ask_px,
            ask_sz,
            strings["status"],
            strings["err"],
            source_ts,
        ]
        return pa.Table.from_arrays(columns, schema=SNAPSHOT_SCHEMA)


class TradeBatch:
    """Columnar builder of ``trades`` rows (trades seen live)."""

    __slots__ = (
        "market_id",
        "outcome_id",
        "px_e6",
        "seq",
        "side",
        "source_ts",
        "sz_e6",
        "trade_id",
        "ts_recv",
        "venue",
    )

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Drop every row, keeping the builder for reuse."""
        self.ts_recv: list[int] = []
        self.venue: list[str] = []
        self.market_id: list[str] = []
        self.outcome_id: list[str] = []
        self.seq: list[int] = []
        self.px_e6: array[int] = array("q")
        self.sz_e6: array[int] = array("q")
        self.side: list[str | None] = []
        self.trade_id: list[str | None] = []
        self.source_ts: list[int | None] = []

    def __len__(self) -> int:
        return len(self.ts_recv)

    def append(
        self,
        ts_recv_ms: int,
        venue: str,
        market_id: str,
        outcome_id: str,
        seq: int,
        px_e6: int,
        sz_e6: int,
        side: str | None = None,
        trade_id: str | None = None,
        source_ts_ms: int | None = None,
    ) -> None:
        """Append one trade with price and size in e6."""
        self.ts_recv.append(ts_recv_ms)
        self.venue.append(venue)
        self.market_id.append(market_id)
        self.outcome_id.append(outcome_id)
        self.seq.append(seq)
        self.px_e6.append(px_e6)
        self.sz_e6.append(sz_e6)
        self.side.append(side)
        self.trade_id.append(trade_id)
        self.source_ts.append(source_ts_ms)

    def append_trade(
        self, venue: str, market_id: str, outcome_id: str, seq: int, trade: Trade
    ) -> None:
        """Append a canonical ``Trade`` event."""
        self.append(
            trade.ts_recv_ms,
            venue,
            market_id,
            outcome_id,
            seq,
            trade.px_e6,
            trade.sz_e6,
            trade.side,
            trade.trade_id,
            trade.ts_event_ms,
        )

    def extend(self, other: TradeBatch) -> None:
        """Append every row of ``other`` (which is left unchanged)."""
        for name in self.__slots__:
            getattr(self, name).extend(getattr(other, name))

    def to_table(self) -> pa.Table:
        """Return the rows as a table of ``TRADE_SCHEMA``."""
        columns = [
            pa.array(_int64(self.ts_recv)),
            venue_array(self.venue),
            pa.array(self.market_id, type=pa.string()),
            pa.array(self.outcome_id, type=pa.string()),
            pa.array(_int64(self.seq)),
            pa.array(_e6_to_f64(self.px_e6)),
            pa.array(_e6_to_f64(self.sz_e6)),
            pa.array(self.side, type=pa.string()),
            pa.array(self.trade_id, type=pa.string()),
            pa.array(self.source_ts, type=pa.int64()),
        ]
        return pa.Table.from_arrays(columns, schema=TRADE_SCHEMA)
