"""Bar timestamps as the JSON renderings print them.

A curve of daily or weekly bars prints dates ("2020-01-02"); an intraday one
prints ISO date-times ("2020-01-02T09:31:00"). Files are read batch by batch,
so the choice is made as rows arrive: dates while every timestamp seen so far
is midnight, date-times from the first one that is not, and never back. A
batch is always printed one way, so an intraday run whose last batch happens
to hold only a midnight bar still prints date-times.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

DATE_FORMAT = "%Y-%m-%d"
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


class BarDateFormatter:
    """Formats the timestamp columns of one file consistently, batch after batch."""

    def __init__(self) -> None:
        self.dates_only = True

    def format(self, *columns: pa.Array) -> list[list[str | None]]:
        """Each column as a list of strings (None for nulls).

        columns: timestamp, date or string arrays of one batch; timestamps decide the format together.
        """
        seconds = self.decide(*columns)
        pattern = DATE_FORMAT if self.dates_only else DATETIME_FORMAT
        return [strings(c, pattern) for c in seconds]

    def decide(self, *columns: pa.Array) -> list[pa.Array]:
        """The columns with timestamps in whole seconds, after updating `dates_only` from them.

        Shared with the JSON text printers (date_text), so both print a batch the same way.
        """
        # Bars are tz-naive UTC; a tz-aware column is cast to its UTC wall clock,
        # and to whole seconds, since strftime would print fractions of them.
        seconds = [pc.cast(c, pa.timestamp("s"), safe=False) if pa.types.is_timestamp(c.type) else c for c in columns]
        if self.dates_only and not all(_all_midnight(c) for c in seconds if pa.types.is_timestamp(c.type)):
            self.dates_only = False
        return seconds


def _all_midnight(column: pa.Array) -> bool:
    """Whether every non-null timestamp of `column` falls on midnight."""
    verdict = pc.all(pc.equal(pc.floor_temporal(column, unit="day"), column)).as_py()
    return verdict is not False  # None: the column is all nulls


def strings(column: pa.Array, pattern: str) -> list[str | None]:
    """`column` as Python strings; dates print as dates whatever `pattern` says."""
    if pa.types.is_timestamp(column.type):
        return pc.strftime(column, format=pattern).to_pylist()
    if pa.types.is_date(column.type):
        return pc.strftime(column, format=DATE_FORMAT).to_pylist()
    return pc.cast(column, pa.string()).to_pylist()
