"""Bar timestamps as the JSON renderings print them, at compiled speed.

The text is bar_dates' ("2020-01-02", or "2020-01-02T09:31:00" once a file
shows an intraday bar), and so is the choice between the two: the same
BarDateFormatter decides, batch after batch. `write_date` (numba) prints a
timestamp in seconds as a quoted JSON string; what it does not cover (string
columns, years outside 1000-9999, nulls) comes as ready-made texts, printed
by bar_dates' own strftime, so the two paths cannot drift apart.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from services.results.bar_dates import DATE_FORMAT, DATETIME_FORMAT, BarDateFormatter, strings
from services.results.kernel_arrays import KeptBuffer
from services.results.text_table import TextTable, escape, json_strings
from services.results.word_access import load_u32, load_u64, store_word

WIDTH = 21  # a quoted date-time
_DAY = 86_400
# Seconds from 1970 of 1000-01-01 and 10000-01-01: write_date prints four-digit years only.
_FIRST, _END = -30_610_224_000, 253_402_300_800
# "HH:MM:" of each minute of the day and "SS" of each second, as the words write_date ORs together.
_MINUTES = np.array([int.from_bytes(f"{m // 60:02d}:{m % 60:02d}:".encode(), "little") for m in range(1440)], np.uint64)
_SECONDS = np.array([int.from_bytes(f"{s:02d}".encode(), "little") << 48 for s in range(60)], np.uint64)
# Days from 0000-03-01 (the start of Hinnant's eras) to 1000-01-01.
_DAYS_FROM_ERA = 719_468 + _FIRST // _DAY
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}  # a timestamp unit's values per second


@dataclass(frozen=True)
class DateColumn:
    """One date column of a batch, ready for the row printers.

    seconds: int64 seconds since 1970 per row (0 where `texts` or a null stands instead).
    date_only: print "YYYY-MM-DD" rather than a date-time.
    present: False where the value is null.
    texts: the rows printed from text (code >= 0): strings, far years, and nulls as "".
    """

    seconds: np.ndarray
    date_only: bool
    present: np.ndarray
    texts: TextTable


class BarDateText:
    """Prepares the date columns of one file, batch after batch, as BarDateFormatter would print them.

    A complete timestamp column's seconds are written into an array kept per column position
    and reused batch after batch: a DateColumn's `seconds` hold only until the next call.
    """

    def __init__(self) -> None:
        self._formatter = BarDateFormatter()
        self._seconds: defaultdict[int, KeptBuffer] = defaultdict(KeptBuffer)

    def columns(self, *columns: pa.Array) -> list[DateColumn]:
        """Each column of one batch (timestamps decide the format together, as in BarDateFormatter)."""
        if self._formatter.dates_only:  # it never turns back: once date-times, no batch needs deciding
            columns = self._formatter.decide(*columns)  # in whole seconds: used, not cast again
        return [self._column(index, column, self._formatter.dates_only) for index, column in enumerate(columns)]

    def _column(self, index: int, column: pa.Array, dates_only: bool) -> DateColumn:
        """The usual column (complete timestamps, years 1000-9999) in seconds from the kept array; the rest as decided.

        Arrow's cast to seconds made a batch-sized array per batch (256 KiB for a curve batch,
        mapped and faulted in afresh at the results service's mmap threshold, then unmapped);
        _to_seconds truncates as that cast does (safe=False: toward zero), into the kept array.
        """
        rows = len(column)
        if rows and pa.types.is_timestamp(column.type) and column.null_count == 0:
            seconds = self._seconds[index].take(rows * 8).view(np.int64)
            raw = column.view(pa.int64()).to_numpy()  # zero-copy, read-only
            low, high = _to_seconds(raw, _PER_SECOND[column.type.unit], seconds)
            if low >= _FIRST and high < _END:
                return DateColumn(
                    seconds, dates_only, np.ones(rows, bool), TextTable.of_texts(np.full(rows, -1, np.int32), [])
                )
        return self._decided(column, dates_only)

    @staticmethod
    def _decided(column: pa.Array, dates_only: bool) -> DateColumn:
        """Any column as BarDateFormatter.decide hands it on (timestamps cast to whole seconds)."""
        if pa.types.is_timestamp(column.type):
            column = pc.cast(column, pa.timestamp("s"), safe=False)
        rows = len(column)
        complete = column.null_count == 0
        present = np.ones(rows, bool) if complete else column.is_valid().to_numpy(zero_copy_only=False)
        if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
            date_only = dates_only or pa.types.is_date(column.type)
            as_seconds = column.cast(pa.timestamp("s")) if pa.types.is_date(column.type) else column
            seconds = as_seconds.cast(pa.int64())
            seconds = (seconds if complete else seconds.fill_null(0)).to_numpy(zero_copy_only=False)
            if complete and rows and seconds.min() >= _FIRST and seconds.max() < _END:  # the usual batch
                return DateColumn(seconds, date_only, present, TextTable.of_texts(np.full(rows, -1, np.int32), []))
            far = present & ((seconds < _FIRST) | (seconds >= _END))
            chosen = np.flatnonzero(far | ~present)
            texts = []
            if len(chosen):
                pattern = DATE_FORMAT if date_only else DATETIME_FORMAT
                printed = strings(column.take(pa.array(chosen)), pattern)
                texts = [escape(text) if text is not None else '""' for text in printed]
            return DateColumn(seconds, date_only, present, TextTable.sparse(rows, chosen, texts))
        return DateColumn(np.zeros(rows, np.int64), True, present, json_strings(column))


@njit(cache=True, nogil=True)
def _to_seconds(values: np.ndarray, per_second: int, out: np.ndarray) -> tuple[int, int]:
    """Timestamps (1/per_second s) as whole seconds into out, truncated toward zero as Arrow's unsafe cast; (min, max).

    One loop per unit, so that each divides by a constant (a multiply, not a division).
    """
    if per_second == 1_000_000:
        return _divided(values, 1_000_000, out)
    if per_second == 1_000_000_000:
        return _divided(values, 1_000_000_000, out)
    if per_second == 1_000:
        return _divided(values, 1_000, out)
    return _divided(values, 1, out)


@njit(cache=True, nogil=True, inline="always")
def _divided(values, per_second, out):
    low, high = np.int64(np.iinfo(np.int64).max), np.int64(np.iinfo(np.int64).min)
    for row in range(len(values)):
        value = values[row]
        second = value // per_second  # floor: one more where a negative value has a fraction left
        second += np.int64((value < 0) & (second * per_second != value))
        out[row] = second
        low, high = min(low, second), max(high, second)
    return low, high


@njit(cache=True, nogil=True, inline="always")
def write_date(seconds: int, date_only: bool, at: int, pos: int, day: int, head, tail) -> tuple:
    """Writes `"YYYY-MM-DD"` or `"YYYY-MM-DDTHH:MM:SS"` (quoted) at address at + pos.

    seconds: since 1970-01-01, a year from 1000 to 9999 (proleptic Gregorian, as strftime).
    day, head, tail: the last day printed in this loop (-1 at first) and its text as words
    (`"YYYY-MM` and `-DD`): minute bars repeat a day hundreds of times, so its text is
    computed once a day; the time of day comes from a table per minute. Returns the
    position after the text and the day's new (day, head, tail). Whole words are stored,
    up to 8 bytes past the text's end (see word_access.SLACK).
    """
    # Counted from 1000-01-01 (a whole number of days before 1970) everything is
    # non-negative, so unsigned division needs no sign fix-ups.
    since = np.uint64(seconds - _FIRST)
    days, clock = since // np.uint64(_DAY), since % np.uint64(_DAY)
    if np.int64(days) != day:
        store_word(at + pos, np.uint8(34))  # '"'
        _write_day(days, at + pos + 1)
        day, head, tail = np.int64(days), load_u64(at + pos), load_u32(at + pos + 8) & np.uint32(0xFF_FFFF)
    store_word(at + pos, np.uint64(head))
    if date_only:
        store_word(at + pos + 8, np.uint32(tail) | np.uint32(0x2200_0000))  # '-DD"'
        return pos + 12, day, head, tail
    store_word(at + pos + 8, np.uint32(tail) | np.uint32(0x5400_0000))  # "-DDT"
    store_word(at + pos + 12, _MINUTES[clock // np.uint64(60)] | _SECONDS[clock % np.uint64(60)])
    store_word(at + pos + 20, np.uint8(34))
    return pos + 21, day, head, tail


@njit(cache=True, nogil=True, inline="always")
def _write_day(days, at: int) -> None:
    """YYYY-MM-DD of the day `days` after 1000-01-01 (H. Hinnant's civil-from-days)."""
    z = days + np.uint64(_DAYS_FROM_ERA)
    era = z // np.uint64(146_097)
    day_of_era = z - era * np.uint64(146_097)
    year_of_era = (
        day_of_era - day_of_era // np.uint64(1_460) + day_of_era // np.uint64(36_524) - day_of_era // np.uint64(146_096)
    ) // np.uint64(365)
    leap_days = year_of_era // np.uint64(4) - year_of_era // np.uint64(100)
    day_of_year = day_of_era - (np.uint64(365) * year_of_era + leap_days)
    shifted_month = (np.uint64(5) * day_of_year + np.uint64(2)) // np.uint64(153)
    day = day_of_year - (np.uint64(153) * shifted_month + np.uint64(2)) // np.uint64(5) + np.uint64(1)
    month = shifted_month + np.uint64(3) if shifted_month < 10 else shifted_month - np.uint64(9)
    year = year_of_era + era * np.uint64(400) + np.uint64(1 if month <= 2 else 0)
    _two(year // np.uint64(100), at)
    _two(year % np.uint64(100), at + 2)
    store_word(at + 4, np.uint8(45))  # "-"
    _two(month, at + 5)
    store_word(at + 7, np.uint8(45))
    _two(day, at + 8)


@njit(cache=True, nogil=True, inline="always")
def _two(value, at: int) -> None:
    store_word(at, np.uint8(value // np.uint64(10) + np.uint64(48)))
    store_word(at + 1, np.uint8(value % np.uint64(10) + np.uint64(48)))


def null_dates(rows: int) -> DateColumn:
    """A date column the file lacks: every value null."""
    return DateColumn(np.zeros(rows, np.int64), True, np.zeros(rows, bool), TextTable.constant(rows, '""'))
