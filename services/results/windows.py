"""Which rows of a curve or a trade list a request asks for: a date window and, for curves, downsampling.

`start` and `end` are read as the bars download reads them
(`services.domain.dates.parse_bounds`): ISO-8601 dates or date-times,
inclusive, a bare date meaning its midnight. A curve is windowed by its
`date`, a trade list by `entry_date`. `every` is a bar size of the platform
(`services.domain.timeframes`): the rows fall into buckets of that size
aligned to UTC midnight (weeks start on Monday 00:00, ISO weeks), and each
non-empty bucket gives its last row in the window, with that row's own date:
the equity at the bucket's close, as pandas `resample(rule).last()` gives it
(dropping empty buckets), except that a null equity is kept as the last point
rather than skipped.

Stored artifacts are read by row group: a row group whose statistics put its
dates wholly outside the window is never fetched. The rest are cut batch by
batch; downsampling carries the last row of a bucket across batches, so the
result does not depend on where batches end. Rows are taken in stored order,
which for a curve is date order (one point per bar).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from services.domain.dates import parse_bounds
from services.domain.errors import ConflictError, FieldViolation, ValidationError
from services.domain.timeframes import TIMEFRAMES

_EPOCH = datetime(1970, 1, 1)
_MICROS = {"s": 1_000_000, "ms": 1_000, "us": 1, "D": 86_400_000_000}  # microseconds per unit; ns below
_INT64 = (-(2**63), 2**63 - 1)
# Bucket widths of `every`, in microseconds; weeks are counted from a Monday.
_WIDTHS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3_600, "1d": 86_400, "1w": 7 * 86_400}
_MONDAY_US = 4 * 86_400_000_000  # 1970-01-05, the first Monday after the epoch (a Thursday)
assert set(_WIDTHS) == set(TIMEFRAMES), "every bar size needs a bucket width"


@dataclass(frozen=True)
class RowWindow:
    """The rows a request asks for.

    start, end: inclusive bounds (tz-naive UTC), None for none.
    every: a key of TIMEFRAMES, None for every row.
    """

    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    every: str | None = None

    @classmethod
    def parse(cls, start: str, end: str, every: str = "") -> RowWindow:
        """The window of a request's fields ("" for unset); one ValidationError naming every bad field."""
        low, high, violations = parse_bounds(start, end)
        if every and every not in TIMEFRAMES:
            violations.append(FieldViolation("every", f"{every!r} is not one of {', '.join(TIMEFRAMES)}"))
        if violations:
            raise ValidationError(violations)
        return cls(low, high, every or None)

    @property
    def whole(self) -> bool:
        """Whether every row is wanted as stored: the request named no window and no downsampling."""
        return self.start is None and self.end is None and self.every is None

    def clock(self, schema: pa.Schema, column: str, what: str) -> Clock:
        """How `column` of a file with `schema` counts time; a 409 naming `what` when it is not dates."""
        kind = schema.field(column).type if column in schema.names else None
        if kind is not None and pa.types.is_timestamp(kind):
            unit = kind.unit
        elif kind is not None and pa.types.is_date32(kind):
            unit = "D"
        elif kind is not None and pa.types.is_date64(kind):
            unit = "ms"
        else:
            raise ConflictError(f"the {what} cannot be windowed: its {column} column holds no dates ({kind})")
        return Clock(column, unit, _in_unit(self.start, unit, up=True), _in_unit(self.end, unit, up=False))

    def row_groups(self, metadata: pq.FileMetaData, clock: Clock, row_groups: list[int] | None) -> list[int]:
        """`row_groups` (None: all) less those whose statistics put all their dates outside the window."""
        kept = []
        for index in range(metadata.num_row_groups) if row_groups is None else row_groups:
            group = metadata.row_group(index)
            stats = next(
                (group.column(i).statistics for i in range(group.num_columns)
                 if group.column(i).path_in_schema == clock.column),
                None,
            )  # fmt: skip
            if stats is not None and stats.has_min_max:  # null dates never lie in a window: they do not count
                low, high = stats.min_raw, stats.max_raw
                if isinstance(low, int) and isinstance(high, int) and not clock.overlaps(low, high):
                    continue
            kept.append(index)
        return kept

    def applied(
        self,
        parquet: pq.ParquetFile,
        column: str,
        what: str,
        row_groups: list[int] | None,
        read: Callable[[list[int] | None], Iterator[pa.RecordBatch]],
    ) -> Iterator[pa.RecordBatch]:
        """`read(row_groups)`, windowed by `column`: row groups outside skipped, rows cut and downsampled.

        A whole window calls `read(row_groups)` alone, so the default answer is read as before windows
        existed (a file whose `column` holds no dates is refused only when a window is asked for).
        """
        if self.whole:
            return read(row_groups)
        clock = self.clock(parquet.schema_arrow, column, what)
        return self.rows(read(self.row_groups(parquet.metadata, clock, row_groups)), clock)

    def rows(self, batches: Iterator[pa.RecordBatch], clock: Clock) -> Iterator[pa.RecordBatch]:
        """The batches cut to the window, then downsampled; empty batches are left out."""
        cut = (clock.cut(batch) for batch in batches)
        if self.every is None:
            return (batch for batch in cut if batch.num_rows)
        return last_per_bucket(cut, clock, _WIDTHS[self.every] * 1_000_000, _MONDAY_US if self.every == "1w" else 0)


@dataclass(frozen=True)
class Clock:
    """A date column's time as integers in its own unit, and the window's bounds in that unit.

    column: the column's name. unit: "s", "ms", "us", "ns" or "D" (days of a date32).
    low, high: the inclusive bounds in `unit`, None where the window has none.
    """

    column: str
    unit: str
    low: int | None
    high: int | None

    def overlaps(self, first: int, last: int) -> bool:
        """Whether some time in [first, last] lies in the window."""
        return (self.low is None or last >= self.low) and (self.high is None or first <= self.high)

    def cut(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The rows of `batch` whose date lies in the window; a null date never does when there is a bound."""
        if self.low is None and self.high is None:
            return batch
        values, valid = self.values(batch.column(self.column))
        keep = valid
        if self.low is not None:
            keep = keep & (values >= self.low)
        if self.high is not None:
            keep = keep & (values <= self.high)
        if keep.all():
            return batch
        return batch.filter(pa.array(keep))

    def values(self, column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(the dates as int64 in `unit`, nulls as 0; whether each is set)."""
        ints = column.view(pa.int32() if self.unit == "D" else pa.int64())
        valid = np.ones(len(column), bool)
        if column.null_count:
            valid = column.is_valid().to_numpy(zero_copy_only=False)
            ints = ints.fill_null(0)
        return ints.to_numpy(zero_copy_only=False).astype(np.int64, copy=False), valid

    def micros(self, column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(the dates as int64 microseconds since the epoch, rounded down; whether each is set)."""
        values, valid = self.values(column)
        if self.unit == "ns":
            return np.floor_divide(values, 1_000), valid
        return values * _MICROS[self.unit], valid


def last_per_bucket(
    batches: Iterator[pa.RecordBatch], clock: Clock, width_us: int, origin_us: int = 0
) -> Iterator[pa.RecordBatch]:
    """The last row of each run of rows in one bucket of `width_us` microseconds from `origin_us`.

    A bucket's last row may be in a later batch, so each batch's last row is held until the next
    row of another bucket (or the end) shows its bucket closed. Rows with a null date are dropped.
    """
    held: tuple[int, pa.RecordBatch] | None = None  # (bucket, its last row so far)
    for batch in batches:
        micros, valid = clock.micros(batch.column(clock.column))
        if not valid.all():
            batch, micros = batch.filter(pa.array(valid)), micros[valid]
        if not batch.num_rows:
            continue
        buckets = np.floor_divide(micros - origin_us, width_us)
        if held is not None and held[0] != buckets[0]:
            yield held[1]
        ends = np.flatnonzero(buckets[1:] != buckets[:-1])  # rows followed by another bucket's
        if len(ends):
            yield batch.take(pa.array(ends))
        held = (int(buckets[-1]), batch.slice(batch.num_rows - 1, 1))
    if held is not None:
        yield held[1]


def _in_unit(bound: pd.Timestamp | None, unit: str, *, up: bool) -> int | None:
    """`bound` as a count of `unit` since the epoch, rounded up (a lower bound) or down (an upper one).

    Whole integers, so a bound is exact at every unit: a row at 09:30:00.5 in milliseconds is
    after an end of 09:30:00 and before a start of 09:30:01. Clamped to int64.
    """
    if bound is None:
        return None
    micros = (bound.to_pydatetime() - _EPOCH) // timedelta(microseconds=1)
    if unit == "ns":
        count = micros * 1_000
    else:
        per = _MICROS[unit]
        count = -(-micros // per) if up else micros // per
    return min(max(count, _INT64[0]), _INT64[1])
