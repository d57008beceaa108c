"""The book against a naive reference, and its status rules."""

from hypothesis import given, settings
from hypothesis import strategies as st

from pmtape.core.book import Book, BookStatus

PX = st.integers(min_value=1, max_value=60).map(lambda t: t * 10_000)
SZ = st.integers(min_value=0, max_value=5).map(lambda s: s * 1_000_000)
CHANGE = st.tuples(st.integers(0, 1), PX, SZ)
LEVELS = st.lists(st.tuples(PX, st.integers(1, 9).map(lambda s: s * 1_000_000)), max_size=30)
OP = st.one_of(
    st.tuples(st.just("delta"), st.lists(CHANGE, min_size=1, max_size=8)),
    st.tuples(st.just("snap"), st.tuples(LEVELS, LEVELS)),
)


class RefBook:
    """The obvious implementation: re-sort everything, every time."""

    def __init__(self) -> None:
        self.sides: list[dict[int, int]] = [{}, {}]

    def snap(self, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
        self.sides = [dict(bids), dict(asks)]
        for side in self.sides:
            for px in [p for p, s in side.items() if s == 0]:
                del side[px]

    def delta(self, changes: list[tuple[int, int, int]]) -> None:
        for side, px, sz in changes:
            if sz:
                self.sides[side][px] = sz
            else:
                self.sides[side].pop(px, None)

    def top(self, k: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        bids = sorted(self.sides[0].items(), key=lambda kv: -kv[0])[:k]
        asks = sorted(self.sides[1].items())[:k]
        return bids, asks


def _top(book: Book) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    return (
        [(p, book.bids[p]) for p in book.bid_prices()],
        [(p, book.asks[p]) for p in book.ask_prices()],
    )


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(OP, max_size=40), k=st.integers(1, 12), peek=st.lists(st.booleans(), max_size=40)
)
def test_book_matches_reference(ops: list, k: int, peek: list[bool]) -> None:
    book = Book(top_k=k)
    ref = RefBook()
    for i, (kind, arg) in enumerate(ops):
        if kind == "delta":
            book.apply_changes(arg, ts_recv_ms=i)
            ref.delta(arg)
        else:
            book.apply_snapshot(arg[0], arg[1], ts_recv_ms=i)
            ref.snap(arg[0], arg[1])
        # Best first (a scan while the cached top is invalid), then the top-K between
        # updates: both exercise the cache invalidation.
        bids, asks = ref.top(k)
        assert book.best_bid() == (bids[0] if bids else None)
        assert book.best_ask() == (asks[0] if asks else None)
        if i < len(peek) and peek[i]:
            assert _top(book) == ref.top(k)
    assert _top(book) == ref.top(k)
    bids, asks = ref.top(k)
    assert book.best_bid() == (bids[0] if bids else None)
    assert book.best_ask() == (asks[0] if asks else None)
    assert book.seq == len(ops)


def test_status_rules() -> None:
    book = Book(top_k=5)
    assert book.status(0, None)[0] is BookStatus.STALE  # nothing received yet
    book.apply_snapshot([], [], ts_recv_ms=1_000)
    assert book.status(1_000, None) == (BookStatus.EMPTY, None)
    book.apply_changes([(0, 400_000, 5_000_000)], ts_recv_ms=1_000)
    assert book.status(1_000, None)[0] is BookStatus.PARTIAL
    book.apply_changes([(1, 410_000, 5_000_000)], ts_recv_ms=1_000)
    assert book.status(1_000, None) == (BookStatus.OK, None)
    assert book.status(70_000, 60_000)[0] is BookStatus.STALE  # silent too long
    book.mark_stale("ws-0 disconnected")
    book.apply_changes([(1, 420_000, 1_000_000)], ts_recv_ms=71_000)
    assert book.status(71_000, 60_000) == (
        BookStatus.STALE,
        "ws-0 disconnected",
    )  # deltas don't repair
    book.apply_snapshot([(400_000, 1)], [(410_000, 1)], ts_recv_ms=72_000)
    assert book.status(72_000, 60_000)[0] is BookStatus.OK  # a fresh snapshot does


def test_seq_and_source_ts() -> None:
    book = Book()
    book.apply_snapshot([(1, 1)], [(2, 1)], ts_recv_ms=10, ts_event_ms=9)
    book.apply_changes([(0, 1, 0)], ts_recv_ms=11)
    assert book.seq == 2
    assert book.source_ts_ms == 9
    assert book.last_recv_ms == 11
