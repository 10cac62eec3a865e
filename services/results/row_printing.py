"""Equity curves and trade lists as the JSON text the gateway printed for their gRPC streams.

GetEquityCurve and GetTrades stream a message per row, and the gateway used
to print each one: a million-point curve took two minutes. The REST routes
now read GetEquityCurveJson and GetTradesJson, whose HttpBody chunks carry
this module's text, byte for byte what the gateway printed (a test holds
the two equal): a bare array `[{...},{...}]`, proto field names in
declaration order, every field without presence printed (zero as `0`, empty
strings as `""`), an open trade's `exit_date` left out, numbers as
number_text prints them, dates as date_text does.

Each record batch is printed by one compiled loop (numba, no Python per
row, the GIL released) into a byte buffer; Python prepares what the loop
copies as is (JSON strings, the rare values number_text leaves to its
Python reference).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from services.results import date_text, number_text
from services.results.date_text import BarDateText, DateColumn, null_dates, write_date
from services.results.kernel_arrays import KeptBuffer, read_only
from services.results.number_text import reference_texts, write_double
from services.results.text_table import TextTable, json_strings
from services.results.word_access import SLACK, address, load_i64, load_u64, store_word

CONTENT_TYPE = "application/json"
# Rows per record batch: about 2 MB of JSON either way, so Python's work per batch is paid rarely.
EQUITY_BATCH_ROWS = 32_768
TRADE_BATCH_ROWS = 8_192
# A batch's text leaves in pieces under the results service's fixed mmap threshold
# (MMAP_THRESHOLD_BYTES, see services.kit.allocator): each piece, and the HttpBody and
# gRPC buffers made from it, then comes from the heap, reused, where a piece above it is
# mapped and unmapped at every copy (tobytes, the wire bytes, gRPC's copy): with 2 MB pieces,
# 15,000 page faults per 60 MB each, half the service's CPU for a million-point curve. Pieces
# of 120 KB (under glibc's default of 128 KiB) cost a message each through gRPC, the service's
# event loop and the gateway: about 500 for a million points, twice as many as now. 480 KB
# under 512 KiB was faster still, but Arrow's 256 KB column buffers then came from the heaps
# too, and the service's peak grew by 45-51 MB per million-point curve (the limit is 50).
# 480 KB pieces on the padded heap below (HEAP_PAD_BYTES) took 15% less of the service's CPU
# read over gRPC, but the curve came 20-40% slower through the local gateway in the bench
# (docs/benchmarks.md, eighth session): not kept.
PIECE_BYTES = 240_000
MMAP_THRESHOLD_BYTES = 256 * 1024
# Every thread of the service allocates from one heap whose free top is padded by this much
# (allocator.one_heap, pad_heap, as the catalog does): a buffer at or above the threshold is
# mapped on its own only when no free chunk and not the heap's top can hold it, so Arrow's
# 256 KiB column buffers, the batch arrays and the print buffer come from the heap, reused,
# instead of being mapped and faulted in afresh every batch (~1,300-4,000 faults a curve before).
HEAP_PAD_BYTES = 4 << 20
TRADE_DOUBLES = ("entry_price", "exit_price", "size", "pnl", "return_pct")
TRADE_TEXTS = ("side", "status")


def _key(text: str) -> tuple[int, int, int]:
    """A key's text (at most 16 bytes) as the two little-endian words _copy stores, and its length."""
    data = text.encode("ascii").ljust(16, b"\0")
    assert len(data) == 16, text
    return int.from_bytes(data[:8], "little"), int.from_bytes(data[8:], "little"), len(text)


# Every row starts with a comma; json_array drops the first one.
_DATE = _key(',{"date":')
_EQUITY = _key(',"equity":')
_ENTRY_DATE = _key(',{"entry_date":')
_EXIT_DATE = _key(',"exit_date":')
_SIDE = _key(',"side":')
_DOUBLE_KEYS = tuple(_key(f',"{name}":') for name in TRADE_DOUBLES)
_STATUS = _key(',"status":')


def json_array(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Printed rows (each starting with a comma) in pieces as the chunks of one JSON array: `[` ... `]`, `[]` if none.

    The closing bracket rides on the last chunk, so no message carries one byte alone.
    """
    held = None
    for piece in pieces:
        if not piece:
            continue
        if held is None:
            held = b"[" + piece[1:]
            continue
        yield held
        held = piece
    yield b"[]" if held is None else held + b"]"


def equity_rows(batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """Batches with `date` and `equity` columns as printed EquityPoint objects, in pieces (see PIECE_BYTES)."""
    dates, buffer = BarDateText(), KeptBuffer()
    for batch in batches:
        (date,) = dates.columns(batch.column("date"))
        values = _doubles(batch.column("equity"))
        undecided: list[int] = []
        end = -1
        while end < 0:  # again (rarely) with a value write_double could not decide printed by Python
            numbers = reference_texts(values, undecided)
            width = _DATE[2] + _EQUITY[2] + 1 + _widest(date) + max(number_text.WIDTH, numbers.longest)
            out = buffer.take(batch.num_rows * width + SLACK)
            inputs = _read_only(date.seconds, date.date_only, *_parts(date.texts), values, *_parts(numbers))
            end = _print_equity(*inputs, out)
            undecided.append(-end - 1)
        yield from _pieces(out, end)


def trade_rows(batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """Batches of trade columns (any of Trade's; a missing one prints its default) as Trade objects, in pieces."""
    dates, buffer, stacked = BarDateText(), KeptBuffer(), KeptBuffer()
    for batch in batches:
        rows, names = batch.num_rows, batch.schema.names
        present = [batch.column(name) for name in ("entry_date", "exit_date") if name in names]
        prepared = iter(dates.columns(*present))
        entry, exit_ = (next(prepared) if name in names else null_dates(rows) for name in ("entry_date", "exit_date"))
        # Into the stream's own array (a batch's 320 KB, above the mmap threshold, mapped afresh per batch otherwise).
        doubles = stacked.take(rows * len(TRADE_DOUBLES) * 8).view(np.float64).reshape(rows, len(TRADE_DOUBLES))
        np.stack(
            [_doubles(batch.column(name)) if name in names else np.zeros(rows) for name in TRADE_DOUBLES],
            axis=1,
            out=doubles,
        )
        side, status = (
            json_strings(batch.column(name)) if name in names else TextTable.constant(rows, '""')
            for name in TRADE_TEXTS
        )
        undecided: list[int] = []
        end = -1
        while end < 0:  # as in equity_rows; the index is row * 5 + column
            numbers = reference_texts(doubles.ravel(), undecided)
            width = (
                _ENTRY_DATE[2] + _EXIT_DATE[2] + _SIDE[2] + _STATUS[2] + 1
                + sum(key[2] for key in _DOUBLE_KEYS) + _widest(entry) + _widest(exit_)
                + 5 * max(number_text.WIDTH, numbers.longest) + side.longest + status.longest
            )  # fmt: skip
            out = buffer.take(rows * width + SLACK)
            end = _print_trades(*_read_only(
                entry.seconds, entry.date_only, *_parts(entry.texts),
                exit_.seconds, exit_.date_only, exit_.present, *_parts(exit_.texts),
                *_parts(side), *_parts(status), doubles, numbers.codes.reshape(doubles.shape), numbers.offsets,
                numbers.blob,
            ), out)  # fmt: skip
            undecided.append(-end - 1)
        yield from _pieces(out, end)


def warm_up() -> None:
    """Compiles (or loads from numba's cache) every printing loop by printing a tiny curve and trade list.

    The service calls it before it listens: a first request would otherwise wait for the compiler
    (about 12 s of CPU when numba's cache is cold, a second when it is not).
    """
    date = pa.array([0, 60], pa.timestamp("s"))
    for rows in equity_rows([pa.record_batch({"date": date, "equity": pa.array([1.5, float("nan")])})]):
        assert rows
    trades = {"entry_date": date, "exit_date": pa.array([60, None], pa.timestamp("s")), "side": pa.array(["a", "b"])}
    trades.update((name, pa.array([2.5, 0.0])) for name in TRADE_DOUBLES)
    for rows in trade_rows([pa.record_batch(trades)]):
        assert rows


def _pieces(out: np.ndarray, end: int) -> Iterator[bytes]:
    """out[:end] in copies of at most PIECE_BYTES, of even sizes (a piece may end inside a row: the text is one array).

    Even sizes: a batch's text of 2.1 pieces goes as three of 0.7, not two full ones and a scrap.
    """
    count = -(-end // PIECE_BYTES)
    step = -(-end // count) if count else 0
    for start in range(0, end, step or 1):
        yield out[start : min(start + step, end)].tobytes()


def _doubles(column: pa.Array) -> np.ndarray:
    """A numeric column as float64, nulls as 0 (an unset proto3 double); ints round as float() does."""
    if column.type == pa.float64() and column.null_count == 0:
        return column.to_numpy(zero_copy_only=False)  # the usual column: no copy
    return pc.cast(column, pa.float64(), safe=False).fill_null(0.0).to_numpy(zero_copy_only=False)


def _widest(column: DateColumn) -> int:
    return max(date_text.WIDTH, column.texts.longest)


def _read_only(*args):
    """The kernel's input arrays all as read-only views (kernel_arrays.read_only), nothing copied.

    Without one kind for all, every mix of Arrow views (read-only) and computed arrays was a
    compile of its own (about a minute each for the trade kernel), in every process whose
    cache lacked it. The kernels only read their inputs (`out` is passed apart, writable).
    The copies this replaced (the Arrow views made writable) were two 256 KiB arrays a curve
    batch, each mapped, faulted in and unmapped afresh at the service's 256 KiB mmap threshold.
    """
    return tuple(read_only(a) if isinstance(a, np.ndarray) else a for a in args)


def _parts(table: TextTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A table's arrays for a kernel, the blob with 8 zero bytes after it: _text loads whole words."""
    return table.codes, table.offsets, np.concatenate((table.blob, np.zeros(8, np.uint8)))


# The kernels take arrays; their helpers take addresses (word_access.address) and scalars,
# since every array handed to an inlined helper cost two atomic reference counts per row.


@njit(cache=True, nogil=True, inline="always")
def _copy(key: tuple[int, int, int], at: int, pos: int) -> int:
    """A key from _key, as two word stores (the bytes after its length are written over next)."""
    store_word(at + pos, np.uint64(key[0]))
    store_word(at + pos + 8, np.uint64(key[1]))
    return pos + key[2]


@njit(cache=True, nogil=True, inline="always")
def _text(code: int, table: tuple[int, int], at: int, pos: int) -> int:
    """Text `code` of a table whose offsets and blob (padded, see _parts) are at the addresses `table`."""
    start, end = load_i64(table[0] + 8 * code), load_i64(table[0] + 8 * code + 8)
    for index in range(start, end, 8):  # whole words: the blob has 8 bytes of padding
        store_word(at + pos + index - start, load_u64(table[1] + index))
    return pos + end - start


@njit(cache=True, nogil=True, inline="always")
def _date(seconds, date_only, code, table, at, pos, day, head, tail):
    if code >= 0:
        return _text(code, table, at, pos), day, head, tail
    return write_date(seconds, date_only, at, pos, day, head, tail)


@njit(cache=True, nogil=True, inline="always")
def _number(value, code, table, at, pos):
    if code >= 0:
        return _text(code, table, at, pos)
    return write_double(value, at, pos)


@njit(cache=True, nogil=True, inline="always")
def _table(offsets, blob) -> tuple[int, int]:
    return address(offsets), address(blob)


@njit(cache=True, nogil=True)
def _print_equity(seconds, date_only, date_codes, date_offsets, date_blob, values, codes, offsets, blob, out):
    at, dates, numbers = address(out), _table(date_offsets, date_blob), _table(offsets, blob)
    pos, day, head, tail = 0, -1, np.uint64(0), np.uint32(0)
    # A curve is flat while the strategy is out of the market: a value like the last one
    # printed is copied from that text rather than printed again.
    last_value, last_start, last_end = np.nan, 0, 0
    for row in range(len(values)):
        pos = _copy(_DATE, at, pos)
        pos, day, head, tail = _date(seconds[row], date_only, date_codes[row], dates, at, pos, day, head, tail)
        pos = _copy(_EQUITY, at, pos)
        value, code, start = values[row], codes[row], pos
        if code < 0 and value == last_value:  # NaN and +-0 always have codes: never copied
            for index in range(0, last_end - last_start, 8):  # whole words: the text after it is rewritten
                store_word(at + pos + index, load_u64(at + last_start + index))
            pos += last_end - last_start
        else:
            pos = _number(value, code, numbers, at, pos)
            if pos < 0:  # undecided: the caller has Python print this value and calls again
                return -(row + 1)
            if code < 0:
                last_value, last_start, last_end = value, start, pos
        store_word(at + pos, np.uint8(125))  # "}"
        pos += 1
    return pos


@njit(cache=True, nogil=True)
def _print_trades(
    entry_seconds, entry_date_only, entry_codes, entry_offsets, entry_blob,
    exit_seconds, exit_date_only, exit_present, exit_codes, exit_offsets, exit_blob,
    side_codes, side_offsets, side_blob, status_codes, status_offsets, status_blob,
    doubles, codes, offsets, blob, out,
):  # fmt: skip
    at, numbers = address(out), _table(offsets, blob)
    entries, exits = _table(entry_offsets, entry_blob), _table(exit_offsets, exit_blob)
    sides, statuses = _table(side_offsets, side_blob), _table(status_offsets, status_blob)
    pos = 0
    entry_day, entry_head, entry_tail = -1, np.uint64(0), np.uint32(0)
    exit_day, exit_head, exit_tail = -1, np.uint64(0), np.uint32(0)
    for row in range(len(doubles)):
        pos = _copy(_ENTRY_DATE, at, pos)
        pos, entry_day, entry_head, entry_tail = _date(
            entry_seconds[row], entry_date_only, entry_codes[row], entries, at, pos, entry_day, entry_head, entry_tail
        )
        if exit_present[row]:  # optional: an open trade has none
            pos = _copy(_EXIT_DATE, at, pos)
            pos, exit_day, exit_head, exit_tail = _date(
                exit_seconds[row], exit_date_only, exit_codes[row], exits, at, pos, exit_day, exit_head, exit_tail
            )
        pos = _copy(_SIDE, at, pos)
        pos = _text(side_codes[row], sides, at, pos)
        for column in range(5):  # keys in TRADE_DOUBLES' order
            pos = _copy(_DOUBLE_KEYS[column], at, pos)
            pos = _number(doubles[row, column], codes[row, column], numbers, at, pos)
            if pos < 0:  # undecided, as in _print_equity; the index is row * 5 + column
                return -(row * 5 + column + 1)
        pos = _copy(_STATUS, at, pos)
        pos = _text(status_codes[row], statuses, at, pos)
        store_word(at + pos, np.uint8(125))
        pos += 1
    return pos
