# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The receive path's scanner for the frames that are most of the market channel.

``price_change`` reads a frame that is one message, or an array of them (a burst), of the
kinds ``price_change``, ``book``, ``last_trade_price`` and ``best_bid_ask`` in the current
format (and REST ``/book`` bodies, ``/books`` arrays: books without ``event_type``), straight
from the bytes: no JSON objects, no strings but token ids (one per run of
items) and trade hashes. ``price_change`` items and full books go straight into the books
it is given; trades and best bid/ask become the same events the general path makes. It
accepts only the plainest form (every string without escapes, ASCII; token ids present;
plain decimal prices strictly inside (0, 1) and plain decimal sizes; known sides; stamps of
plain digits or null; no keys it does not know but with string values (``neg_risk``: a
bool); none of the legacy
forms; a ``book`` with a ``hash`` only if that hash checks out, see ``price_change``) and
checks the whole frame before it changes any book. Anything else, however harmless (a hash
mismatch too), returns -1 untouched, and the caller (``PolymarketNormalizer.ingest``) decodes
the frame the general way, which decides what is bad. So wherever this answers, it answers
as the general path would; the tests hold it to that over generated frames and the fake
venue's bursts.

Compiled by Cython only (``setup.py``); without the extension the general path does it all.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_Resize
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeASCII
from libc.stdint cimport uint64_t
from libc.stdlib cimport qsort, realloc
from libc.string cimport memcmp, memcpy

from pmtape.core.book cimport Book, Side

from hashlib import sha1

import msgspec

from pmtape.core.events import BookDelta, BookSnapshot, TopOfBook, Trade
from pmtape.venues.polymarket.messages import DEFAULT_MIN_ORDER_SIZE, DEFAULT_NEG_RISK

cdef enum:
    MAX_ITEMS = 65536  # in one frame; more goes the general way

cdef struct Item:
    Py_ssize_t key_at
    Py_ssize_t key_len
    Py_ssize_t px_at  # a book level: its price and size texts (for the book's hash)
    Py_ssize_t px_len
    Py_ssize_t sz_at
    Py_ssize_t sz_len
    long long px
    long long sz
    long side


cdef struct Span:
    Py_ssize_t at  # -1: absent
    Py_ssize_t len


cdef struct Msg:
    int kind  # PRICE_CHANGE, BOOK, TRADE or TOP
    Py_ssize_t first  # price_change: its items in the buffer
    Py_ssize_t count
    Py_ssize_t bid_first  # book: its levels in the buffer (Item.key_at: the wire order)
    Py_ssize_t bid_count
    Py_ssize_t ask_first
    Py_ssize_t ask_count
    Py_ssize_t key_at  # book, trade: the token id
    Py_ssize_t key_len
    long long px  # trade
    long long sz
    long side  # trade: -1 none, 0 buy, 1 sell
    Py_ssize_t hash_at  # trade: -1 none
    Py_ssize_t hash_len
    long long stamp  # -1: none
    long long best_bid  # top: -1 for the venue's "no bid" ("0")
    long long best_ask  # top: -1 for the venue's "no ask" ("1")
    # book: the texts its hash covers, string values without their quotes; the stamp's and
    # neg_risk's raw JSON values. A REST body states its market's min_order_size and neg_risk
    # (a bool literal), which the channel's books lack.
    Span book_hash
    Span market
    Span tick
    Span last
    Span stamp_text
    Span mos
    Span neg
    bint assumed  # book: checked with the default market settings


cdef enum:
    PRICE_CHANGE = 0
    BOOK = 1
    TRADE = 2
    TOP = 3


# The items and messages of the frame being read: grown as needed, never shrunk. The scanner
# runs under the GIL and calls nothing that could scan another frame meanwhile.
cdef Item* _items = NULL
cdef Py_ssize_t _items_cap = 0
cdef Msg* _msgs = NULL
cdef Py_ssize_t _msgs_cap = 0
cdef dict _NO_BOOKS = {}


cdef int _reserve(Py_ssize_t items, Py_ssize_t msgs) except -1:
    global _items, _items_cap, _msgs, _msgs_cap
    cdef Py_ssize_t cap
    cdef void* mem
    if items > _items_cap:
        cap = max(items, 2 * _items_cap, 64)
        mem = realloc(_items, cap * sizeof(Item))
        if mem is NULL:
            raise MemoryError()
        _items = <Item*>mem
        _items_cap = cap
    if msgs > _msgs_cap:
        cap = max(msgs, 2 * _msgs_cap, 16)
        mem = realloc(_msgs, cap * sizeof(Msg))
        if mem is NULL:
            raise MemoryError()
        _msgs = <Msg*>mem
        _msgs_cap = cap
    return 0


cdef inline Py_ssize_t _ws(const unsigned char* p, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    while i < n and (p[i] == 32 or p[i] == 10 or p[i] == 13 or p[i] == 9):
        i += 1
    return i


cdef uint64_t ONES = 0x0101010101010101ULL
cdef uint64_t HIGH = 0x8080808080808080ULL
cdef uint64_t LOW20 = 0x2020202020202020ULL  # a byte below 0x20 borrows: a control character
cdef uint64_t QUOTES = 0x2222222222222222ULL
cdef uint64_t SLASHES = 0x5C5C5C5C5C5C5C5CULL

# 1 for a byte a plain string may hold: printable ASCII but the quote and the backslash.
cdef unsigned char PLAIN[256]
for _c in range(256):
    PLAIN[_c] = 32 <= _c < 128 and _c != 34 and _c != 92


cdef inline Py_ssize_t _string(const unsigned char* p, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    """``p[i]`` follows an opening quote; return the index of the closing one, or -1.

    Escapes, control characters and non-ASCII bytes are refused (-1): the general path
    decides about them. ``p[n]`` is the NUL every bytes object ends with, which stops the
    loop.
    """
    cdef uint64_t w, bad
    while i + 8 <= n:  # eight bytes at a time while none is a quote, backslash, control or high
        memcpy(&w, p + i, 8)
        bad = (w & HIGH) | ((w - LOW20) & ~w & HIGH)
        bad |= ((w ^ QUOTES) - ONES) & ~(w ^ QUOTES) & HIGH
        bad |= ((w ^ SLASHES) - ONES) & ~(w ^ SLASHES) & HIGH
        if bad:
            break
        i += 8
    while PLAIN[p[i]]:
        i += 1
    return i if i < n and p[i] == 34 else -1


cdef inline bint _is(const unsigned char* p, Py_ssize_t at, Py_ssize_t n, const char* word, Py_ssize_t wn) noexcept nogil:
    return n == wn and memcmp(p + at, word, wn) == 0


cdef long long _e6(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    """Plain decimal to e6 rounding half up, as ``fixed.parse_e6_plain``; -1 if not plain."""
    cdef long long whole = 0, frac = 0
    cdef Py_ssize_t n_whole = 0, n_frac = 0, i
    cdef bint dot = False, up = False
    cdef unsigned char c
    for i in range(n):
        c = p[i]
        if 48 <= c <= 57:
            if dot:
                if n_frac < 6:
                    frac = frac * 10 + (c - 48)
                elif n_frac == 6:
                    up = c >= 53
                n_frac += 1
            else:
                n_whole += 1
                if n_whole > 12:
                    return -1
                whole = whole * 10 + (c - 48)
        elif c == 46 and not dot:
            dot = True
        else:
            return -1
    if n_whole == 0 and n_frac == 0:
        return -1
    while n_frac < 6:
        frac *= 10
        n_frac += 1
    return whole * 1000000 + frac + (1 if up else 0)


cdef long long _digits(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    """A stamp of 1..18 digits without a leading zero (or "0") to its value; -1 otherwise."""
    cdef long long v = 0
    cdef Py_ssize_t i
    if n < 1 or n > 18 or (n > 1 and p[0] == 48):
        return -1
    for i in range(n):
        if not 48 <= p[i] <= 57:
            return -1
        v = v * 10 + (p[i] - 48)
    return v


cdef Py_ssize_t _key(
    const unsigned char* p, Py_ssize_t i, Py_ssize_t n, Py_ssize_t* k, Py_ssize_t* kn
) noexcept nogil:
    """Read a key and its colon from ``p[i] == '"'``: set where the key is and how long; return
    the index of the value (``< n``), or -1."""
    if i >= n or p[i] != 34:
        return -1
    k[0] = i + 1
    i = _string(p, i + 1, n)
    if i < 0:
        return -1
    kn[0] = i - k[0]
    i = _ws(p, i + 1, n)
    if i >= n or p[i] != 58:  # ':'
        return -1
    i = _ws(p, i + 1, n)
    return i if i < n else -1


cdef Span _ABSENT = Span(-1, 0)


cdef inline bint _keep(Span* s, Py_ssize_t at, Py_ssize_t n) noexcept nogil:
    """Note where a value is; return whether the field was seen before."""
    cdef bint again = s.at >= 0
    s.at = at
    s.len = n
    return again


cdef inline Py_ssize_t _next(
    const unsigned char* p, Py_ssize_t i, Py_ssize_t n, unsigned char close, bint* closed
) noexcept nogil:
    """After a member of an object or array, from ``p[i]``: past a comma to the next member,
    or past ``close`` (then ``closed``). Return that index, or -1 for anything else."""
    i = _ws(p, i, n)
    if i < n:
        if p[i] == 44:  # ','
            closed[0] = False
            return _ws(p, i + 1, n)
        if p[i] == close:
            closed[0] = True
            return i + 1
    return -1


cdef inline long long _price(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    """A plain decimal price strictly inside (0, 1) to e6; -1 otherwise."""
    cdef long long px = _e6(p, n)
    return px if 0 < px < 1000000 else -1


cdef inline long long _quote(const unsigned char* p, Py_ssize_t n, unsigned char none) noexcept nogil:
    """A best bid or ask: -1 for the venue's one-character ``none``, else a price to e6, or
    -2 if it is neither."""
    cdef long long px
    if n == 1 and p[0] == none:
        return -1
    px = _price(p, n)
    return px if px >= 0 else -2


cdef Py_ssize_t _fields(
    const unsigned char* p, Py_ssize_t i, Py_ssize_t n, Item* it, bint level
) noexcept nogil:
    """Read one ``price_change`` item (token id, price, size, side) or, with ``level``, one
    book level (price, size) from ``p[i] == '{'``: every value a string, each field once.
    Return the index after it, or -1."""
    cdef Py_ssize_t k, kn, v, vn
    cdef int seen = 0
    cdef int want = 6 if level else 15  # the bits of the fields it must have
    cdef bint closed
    i = _ws(p, i + 1, n)
    while True:
        i = _key(p, i, n, &k, &kn)
        if i < 0 or p[i] != 34:
            return -1  # every value is a string in the current format
        v = i + 1
        i = _string(p, v, n)
        if i < 0:
            return -1
        vn = i - v
        if _is(p, k, kn, b"price", 5):
            if seen & 2:
                return -1
            seen |= 2
            it.px = _price(p + v, vn)
            if it.px < 0:
                return -1
            it.px_at = v
            it.px_len = vn
        elif _is(p, k, kn, b"size", 4):
            if seen & 4:
                return -1
            seen |= 4
            it.sz = _e6(p + v, vn)
            if it.sz < 0:
                return -1
            it.sz_at = v
            it.sz_len = vn
        elif level:
            pass  # a level's other fields are not read
        elif _is(p, k, kn, b"asset_id", 8):
            if seen & 1 or vn == 0:
                return -1
            seen |= 1
            it.key_at = v
            it.key_len = vn
        elif _is(p, k, kn, b"side", 4):
            if seen & 8:
                return -1
            seen |= 8
            if _is(p, v, vn, b"BUY", 3) or _is(p, v, vn, b"buy", 3):
                it.side = 0
            elif _is(p, v, vn, b"SELL", 4) or _is(p, v, vn, b"sell", 4):
                it.side = 1
            else:
                return -1
        i = _next(p, i + 1, n, 125, &closed)  # '}'
        if i < 0 or closed:
            return i if seen == want else -1  # closed after every field it must have


cdef Py_ssize_t _list(
    const unsigned char* p, Py_ssize_t i, Py_ssize_t n, Py_ssize_t* count, bint levels
) except -2:
    """Read an array of items (or book levels) from ``p[i] == '['`` into the buffer from
    ``count``; return the index after it, or -1."""
    cdef Py_ssize_t order = 0
    cdef bint closed
    if p[i] != 91:  # '['
        return -1
    i = _ws(p, i + 1, n)
    if i < n and p[i] == 93:
        return i + 1
    while True:
        if count[0] == MAX_ITEMS or i >= n or p[i] != 123:
            return -1
        _reserve(count[0] + 1, 0)
        i = _fields(p, i, n, &_items[count[0]], levels)
        if i < 0:
            return -1
        if levels:
            _items[count[0]].key_at = order  # the wire order: a repeated price's last word wins
        count[0] += 1
        order += 1
        i = _next(p, i, n, 93, &closed)  # ']'
        if i < 0 or closed:
            return i


cdef Py_ssize_t _message(
    const unsigned char* p, Py_ssize_t i, Py_ssize_t n, Msg* m, Py_ssize_t* count
) except -2:
    """Read one message from ``p[i] == '{'`` (a plain price_change, book, last_trade_price or
    best_bid_ask; items and levels into the buffer from ``count``); return the index after
    it, or -1."""
    cdef Py_ssize_t k, kn, v, vn, start
    cdef long long px
    # bits: type, changes, stamp, token, price, size, side, trade hash, bids, asks, best bid,
    # best ask
    cdef int seen = 0, bit
    cdef bint closed, twice = False  # a field a book's hash covers, twice
    m.kind = -1
    m.stamp = -1
    m.side = -1
    m.hash_at = -1
    m.key_len = 0
    m.book_hash = m.market = m.tick = m.last = m.stamp_text = m.mos = m.neg = _ABSENT
    i = _ws(p, i + 1, n)
    while True:
        i = _key(p, i, n, &k, &kn)
        if i < 0:
            return -1
        if _is(p, k, kn, b"price_changes", 13):
            if seen & 2:
                return -1
            seen |= 2
            m.first = count[0]
            i = _list(p, i, n, count, False)
            m.count = count[0] - m.first
        elif _is(p, k, kn, b"bids", 4) or _is(p, k, kn, b"asks", 4):
            start = count[0]
            if p[k] == 98:  # bids
                if seen & 256:
                    return -1
                seen |= 256
                m.bid_first = start
                i = _list(p, i, n, count, True)
                m.bid_count = count[0] - start
            else:
                if seen & 512:
                    return -1
                seen |= 512
                m.ask_first = start
                i = _list(p, i, n, count, True)
                m.ask_count = count[0] - start
        elif _is(p, k, kn, b"timestamp", 9):
            if seen & 4:
                return -1
            seen |= 4
            start = i  # the raw value, for the book hash
            if p[i] == 34:
                v = i + 1
                i = _string(p, v, n)
                if i < 0:
                    return -1
                m.stamp = _digits(p + v, i - v)
                if m.stamp < 0:
                    return -1
                i += 1
            elif n - i >= 4 and memcmp(p + i, b"null", 4) == 0:
                i += 4
            else:
                v = i
                while i < n and 48 <= p[i] <= 57:
                    i += 1
                m.stamp = _digits(p + v, i - v)
                if m.stamp < 0:
                    return -1
            _keep(&m.stamp_text, start, i - start)  # as served: quoted, digits or null
        elif _is(p, k, kn, b"neg_risk", 8):
            start = i
            if n - i >= 4 and memcmp(p + i, b"true", 4) == 0:
                i += 4
            elif n - i >= 5 and memcmp(p + i, b"false", 5) == 0:
                i += 5
            else:
                return -1  # not a bool: the general path hashes it as it is
            twice |= _keep(&m.neg, start, i - start)
        else:
            if p[i] != 34:
                return -1  # a value that is not a string: the general path skips or judges it
            v = i + 1
            i = _string(p, v, n)
            if i < 0:
                return -1
            vn = i - v
            i += 1
            if _is(p, k, kn, b"event_type", 10):
                if seen & 1:
                    return -1
                seen |= 1
                if _is(p, v, vn, b"price_change", 12):
                    m.kind = PRICE_CHANGE
                elif _is(p, v, vn, b"book", 4):
                    m.kind = BOOK
                elif _is(p, v, vn, b"last_trade_price", 16):
                    m.kind = TRADE
                elif _is(p, v, vn, b"best_bid_ask", 12):
                    m.kind = TOP
                else:
                    return -1
            elif _is(p, k, kn, b"asset_id", 8):
                if seen & 8:
                    return -1
                seen |= 8
                m.key_at = v
                m.key_len = vn
            elif _is(p, k, kn, b"price", 5):
                if seen & 16:
                    return -1
                seen |= 16
                m.px = _price(p + v, vn)
            elif _is(p, k, kn, b"size", 4):
                if seen & 32:
                    return -1
                seen |= 32
                m.sz = _e6(p + v, vn)
            elif _is(p, k, kn, b"side", 4):
                if seen & 64:
                    return -1
                seen |= 64
                if _is(p, v, vn, b"BUY", 3) or _is(p, v, vn, b"buy", 3):
                    m.side = 0
                elif _is(p, v, vn, b"SELL", 4) or _is(p, v, vn, b"sell", 4):
                    m.side = 1
            elif _is(p, k, kn, b"best_bid", 8) or _is(p, k, kn, b"best_ask", 8):
                bit = 1024 if p[k + 5] == 98 else 2048  # best_(b)id or best_(a)sk
                if seen & bit:
                    return -1
                seen |= bit
                # The venue's one-character "none": "0" for no bid, "1" for no ask.
                px = _quote(p + v, vn, 48 if bit == 1024 else 49)
                if px == -2:
                    return -1
                if bit == 1024:
                    m.best_bid = px
                else:
                    m.best_ask = px
            elif _is(p, k, kn, b"hash", 4):
                twice |= _keep(&m.book_hash, v, vn)
            elif _is(p, k, kn, b"market", 6):
                twice |= _keep(&m.market, v, vn)
            elif _is(p, k, kn, b"tick_size", 9):
                twice |= _keep(&m.tick, v, vn)
            elif _is(p, k, kn, b"last_trade_price", 16):
                twice |= _keep(&m.last, v, vn)
            elif _is(p, k, kn, b"min_order_size", 14):
                twice |= _keep(&m.mos, v, vn)
            elif _is(p, k, kn, b"transaction_hash", 16):
                if seen & 128:
                    return -1
                seen |= 128
                m.hash_at = v
                m.hash_len = vn
            elif (
                _is(p, k, kn, b"changes", 7)
                or _is(p, k, kn, b"buys", 4)
                or _is(p, k, kn, b"sells", 5)
            ):
                return -1  # the legacy forms
        if i < 0:
            return -1
        i = _next(p, i, n, 125, &closed)  # '}'
        if i < 0:
            return -1
        if closed:
            break
    if m.kind == -1 and not seen & 1:
        m.kind = BOOK  # no event_type: a REST book body, if it has both sides
    if m.kind == PRICE_CHANGE:
        if not seen & 2 or seen & 8:  # no items, or the legacy one-asset form
            return -1
    elif m.kind == BOOK:
        if m.key_len == 0 or (seen & 768) != 768:
            return -1
        if twice or (m.mos.at < 0) != (m.neg.at < 0):
            return -1  # the general path decides which word its hash covers
    elif m.kind == TRADE:
        if m.key_len == 0 or not seen & 16 or not seen & 32:
            return -1
        if m.px < 0 or m.sz <= 0:
            return -1
    elif m.kind == TOP:
        if m.key_len == 0 or (seen & 3072) != 3072:
            return -1
    else:
        return -1
    return i


cdef int _by_price(const void* a, const void* b) noexcept nogil:
    cdef const Item* x = <const Item*>a
    cdef const Item* y = <const Item*>b
    if x.px != y.px:
        return -1 if x.px < y.px else 1
    return -1 if x.key_at < y.key_at else (1 if x.key_at > y.key_at else 0)


cdef Py_ssize_t _rising(Py_ssize_t first, Py_ssize_t count) noexcept nogil:
    """Put a book side's levels in rising price order, one per price (the latest word on
    it, whose size 0 means absent); return how many are left.

    The venue lists each side best last, so bids already rise and asks fall: those need
    no sort, only (for asks) a reversal. Anything else is sorted by price, then wire order.
    """
    cdef Item* lv = &_items[first]
    cdef Py_ssize_t j, n = 0
    cdef bint up = True, down = True
    cdef Item tmp
    for j in range(1, count):
        if lv[j].px <= lv[j - 1].px:
            up = False
        if lv[j].px >= lv[j - 1].px:
            down = False
    if up:
        return count
    if down:
        for j in range(count // 2):
            tmp = lv[j]
            lv[j] = lv[count - 1 - j]
            lv[count - 1 - j] = tmp
        return count
    qsort(lv, count, sizeof(Item), _by_price)
    for j in range(count):
        if j + 1 < count and lv[j + 1].px == lv[j].px:
            continue  # a later word on this price follows
        lv[n] = lv[j]
        n += 1
    return n


cdef list _side(Py_ssize_t first, Py_ssize_t count, bint descending):
    """A book side's levels as the general path makes them: a price listed twice keeps its
    last size, size 0 means absent, sorted best first."""
    cdef Py_ssize_t j, n = _rising(first, count)
    cdef Item* lv = &_items[first]
    cdef list out = []
    for j in range(n):
        if lv[j].sz:
            out.append((lv[j].px, lv[j].sz))
    if descending:
        out.reverse()
    return out


cdef void _fill(Side side, Py_ssize_t first, Py_ssize_t count, bint descending) except *:
    """Set a book side's levels as ``_side`` lists them, best first (so no level moves)."""
    cdef Py_ssize_t i, j, n = _rising(first, count)
    cdef Item* lv = &_items[first]
    for i in range(n):
        j = n - 1 - i if descending else i
        if lv[j].sz:
            side.set(lv[j].px, lv[j].sz)


cdef Py_ssize_t _apply(
    const unsigned char* p, Msg* m, dict books, object ts_recv_ms, list out
) except -1:
    """Apply one read message; one touch per run of one token's items. Return books touched."""
    cdef Py_ssize_t j, touched = 0
    cdef Item* it
    cdef Item* prev = NULL
    cdef Book book = None
    cdef list changes = None
    ts = m.stamp if m.stamp >= 0 else None
    for j in range(m.first, m.first + m.count):
        it = &_items[j]
        if (
            prev is NULL
            or it.key_len != prev.key_len
            or memcmp(p + it.key_at, p + prev.key_at, it.key_len) != 0
        ):
            if book is not None:
                book.touch(ts_recv_ms, ts)
            key = PyUnicode_DecodeASCII(<const char*>p + it.key_at, it.key_len, NULL)
            book = books.get(key)
            if book is None:
                changes = []
                out.append(BookDelta(key, changes, ts, ts_recv_ms))
            else:
                touched += 1
        if book is not None:
            book.apply_level(it.side, it.px, it.sz)
        else:
            changes.append((it.side, it.px, it.sz))
        prev = it
    if book is not None:
        book.touch(ts_recv_ms, ts)
    return touched


# -- the book hash (PROTOCOLS §1.4.1): its serialization rebuilt from the frame's texts ----------

# The market settings a channel book does not carry, as JSON texts, when nobody stated them.
cdef tuple _DEFAULTS = (
    msgspec.json.encode(DEFAULT_MIN_ORDER_SIZE),
    msgspec.json.encode(DEFAULT_NEG_RISK),
)
cdef bytearray _doc = bytearray()  # the serialization being hashed: reused, never shrunk


cdef inline Py_ssize_t _put(char* d, Py_ssize_t at, const void* src, Py_ssize_t n) noexcept nogil:
    memcpy(d + at, src, n)
    return at + n


cdef inline Py_ssize_t _text(char* d, Py_ssize_t at, const unsigned char* p, Span s) noexcept nogil:
    """A string value as msgspec writes it back (plain: verbatim, quoted), or null if absent."""
    if s.at < 0:
        return _put(d, at, b"null", 4)
    d[at] = 34
    at = _put(d, at + 1, p + s.at, s.len)
    d[at] = 34
    return at + 1


cdef Py_ssize_t _levels(
    char* d, Py_ssize_t at, const unsigned char* p, Py_ssize_t first, Py_ssize_t count
) noexcept nogil:
    """A book side as served: ``[{"price":…,"size":…},…]`` in wire order."""
    cdef Py_ssize_t j
    cdef Item* lv
    d[at] = 91  # '['
    at += 1
    for j in range(first, first + count):
        lv = &_items[j]
        if j > first:
            d[at] = 44
            at += 1
        at = _put(d, at, b'{"price":"', 10)
        at = _put(d, at, p + lv.px_at, lv.px_len)
        at = _put(d, at, b'","size":"', 10)
        at = _put(d, at, p + lv.sz_at, lv.sz_len)
        at = _put(d, at, b'"}', 2)
    d[at] = 93  # ']'
    return at + 1


cdef int _hash_ok(const unsigned char* p, Msg* m, dict known, object learn) except -2:
    """Check a scanned book's ``hash`` as ``PolymarketNormalizer._check_hash`` would: 1 if it
    matches (``m.assumed``: with the default market settings), 0 if not or if the token's
    stated settings cannot be written (the general path then decides and counts).

    A book with its own settings (a REST body) is checked with them, and they are handed to
    ``learn`` first, match or not, as the general path does (so a decline repeats the same)."""
    cdef Py_ssize_t j, size, at = 0
    cdef bytes mos, neg
    cdef const char* digest
    cdef Py_ssize_t digest_len
    cdef char* d
    key = PyUnicode_DecodeASCII(<const char*>p + m.key_at, m.key_len, NULL)
    if m.mos.at >= 0:  # its own (both or neither: see _message)
        if learn is None:
            return 0
        mos = b'"' + p[m.mos.at : m.mos.at + m.mos.len] + b'"'
        neg = p[m.neg.at : m.neg.at + m.neg.len]
        learn(key, PyUnicode_DecodeASCII(<const char*>p + m.mos.at, m.mos.len, NULL), neg == b"true")
        m.assumed = False
    else:
        stated = known.get(key, _DEFAULTS) if known is not None else _DEFAULTS
        if stated is None:
            return 0
        m.assumed = stated is _DEFAULTS
        mos, neg = stated
    # Room for it all: the fixed text, every value, quotes or null around the optional ones.
    size = 200 + m.key_len + len(mos) + len(neg) + 26 * (m.bid_count + m.ask_count)
    size += m.market.len + m.tick.len + m.last.len + m.stamp_text.len
    for j in range(m.bid_first, m.bid_first + m.bid_count):
        size += _items[j].px_len + _items[j].sz_len
    for j in range(m.ask_first, m.ask_first + m.ask_count):
        size += _items[j].px_len + _items[j].sz_len
    if len(_doc) < size:
        PyByteArray_Resize(_doc, size)
    d = PyByteArray_AS_STRING(_doc)
    at = _put(d, at, b'{"market":', 10)
    at = _text(d, at, p, m.market)
    at = _put(d, at, b',"asset_id":', 12)
    at = _text(d, at, p, Span(m.key_at, m.key_len))
    at = _put(d, at, b',"timestamp":', 13)
    if m.stamp_text.at < 0:
        at = _put(d, at, b"null", 4)
    else:
        at = _put(d, at, p + m.stamp_text.at, m.stamp_text.len)
    at = _put(d, at, b',"hash":"","bids":', 18)
    at = _levels(d, at, p, m.bid_first, m.bid_count)
    at = _put(d, at, b',"asks":', 8)
    at = _levels(d, at, p, m.ask_first, m.ask_count)
    at = _put(d, at, b',"min_order_size":', 18)
    at = _put(d, at, <const char*>mos, len(mos))
    at = _put(d, at, b',"tick_size":', 13)
    at = _text(d, at, p, m.tick)
    at = _put(d, at, b',"neg_risk":', 12)
    at = _put(d, at, <const char*>neg, len(neg))
    at = _put(d, at, b',"last_trade_price":', 20)
    at = _text(d, at, p, m.last)
    d[at] = 125  # '}'
    at += 1
    hexdigest = sha1(memoryview(_doc)[:at], usedforsecurity=False).hexdigest()
    digest = PyUnicode_AsUTF8AndSize(hexdigest, &digest_len)
    return digest_len == m.book_hash.len and memcmp(digest, p + m.book_hash.at, digest_len) == 0


def price_change(
    bytes payload,
    object ts_recv_ms,
    dict books,
    list out,
    dict stats=None,
    dict known=None,
    object learn=None,
):
    """Apply a plain market-channel frame to ``books``; return the books touched, or -1.

    The frame is one message or an array of them (a burst) of ``price_change``, ``book``,
    ``last_trade_price`` and ``best_bid_ask``. As in ``PolymarketNormalizer.ingest``:
    ``price_change`` items and ``book`` messages go straight into the books in ``books``
    while no other event of the frame is pending; trades and best bid/ask, and every change
    or book after the first of them (or of a token without a book), are appended to ``out``
    as events, in frame order. -1 means the frame is not in the
    plain form and nothing was changed.

    A ``book`` with a ``hash`` is taken only when ``stats`` (the normalizer's counters) is
    given and the hash matches, checked with the token's market settings in ``known``
    (token -> the JSON texts of its ``min_order_size`` and ``neg_risk``; None: unusable)
    or the defaults; it counts ``hash_ok`` (and ``hash_assumed_defaults``) as the general
    path would. A mismatch is the general path's to count and mark. A book without
    ``event_type`` is a REST body (``/book``, or ``/books`` as an array): it states its
    market's settings, checked with them and passed to ``learn(token, min_order_size,
    neg_risk)`` (``PolymarketNormalizer.set_market_info``, which updates ``known``).
    """
    cdef const unsigned char* p = payload
    cdef Py_ssize_t n = len(payload)
    cdef Py_ssize_t i, nmsgs = 0, touched = 0, j, count = 0
    cdef Msg* m
    cdef Book book
    cdef bint closed = False
    _reserve(0, 1)
    i = _ws(p, 0, n)
    if i >= n:
        return -1
    if p[i] == 123:  # '{': one message
        i = _message(p, i, n, &_msgs[0], &count)
        if i < 0:
            return -1
        nmsgs = 1
    elif p[i] == 91:  # '[': a burst (an empty one goes the general way)
        i = _ws(p, i + 1, n)
        while not closed:
            if i >= n or p[i] != 123:
                return -1
            _reserve(0, nmsgs + 1)
            i = _message(p, i, n, &_msgs[nmsgs], &count)
            if i < 0:
                return -1
            nmsgs += 1
            i = _next(p, i, n, 93, &closed)  # ']'
            if i < 0:
                return -1
    else:
        return -1
    if _ws(p, i, n) != n:
        return -1
    for j in range(nmsgs):  # every hashed book must check out before anything is applied
        m = &_msgs[j]
        if m.kind == BOOK and m.book_hash.at >= 0:
            if stats is None or not _hash_ok(p, m, known, learn):
                return -1
    for j in range(nmsgs):
        m = &_msgs[j]
        if m.kind == BOOK and m.book_hash.at >= 0:
            stats["hash_ok"] += 1
            if m.assumed:
                stats["hash_assumed_defaults"] += 1
    # The whole frame is plain: apply it, message by message.
    for j in range(nmsgs):
        m = &_msgs[j]
        if m.kind == PRICE_CHANGE:
            touched += _apply(p, m, books if not out else _NO_BOOKS, ts_recv_ms, out)
            continue
        key = PyUnicode_DecodeASCII(<const char*>p + m.key_at, m.key_len, NULL)
        ts = m.stamp if m.stamp >= 0 else None
        if m.kind == BOOK and not out:
            book = books.get(key)
            if book is not None:  # straight in, as Book.apply_snapshot of _side's levels
                book.begin_snapshot()
                _fill(book.bids, m.bid_first, m.bid_count, True)
                _fill(book.asks, m.ask_first, m.ask_count, False)
                book.end_snapshot(ts_recv_ms, ts)
                touched += 1
                continue
        if m.kind == BOOK:
            bids = _side(m.bid_first, m.bid_count, True)
            asks = _side(m.ask_first, m.ask_count, False)
            out.append(BookSnapshot(key, bids, asks, ts, ts_recv_ms))
        elif m.kind == TOP:
            out.append(
                TopOfBook(
                    key,
                    None if m.best_bid < 0 else m.best_bid,
                    None,
                    None if m.best_ask < 0 else m.best_ask,
                    None,
                    ts,
                    ts_recv_ms,
                )
            )
        else:
            side = None if m.side < 0 else ("buy" if m.side == 0 else "sell")
            tx = None
            if m.hash_at >= 0:
                tx = PyUnicode_DecodeASCII(<const char*>p + m.hash_at, m.hash_len, NULL)
            out.append(Trade(key, m.px, m.sz, side, ts, ts_recv_ms, tx))
    return touched
