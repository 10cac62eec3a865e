"""How run artifacts are encoded as Parquet: one set of writer options per artifact kind.

The executor writes a run's files (and a batch's) with these, and the results
service rebuilds a run's file out of a batch file with the same ones, so a
download reads the same whichever way the run was stored.

Equity: the dates of daily or minute bars step by an almost constant amount,
which DELTA_BINARY_PACKED stores in a few bits a row instead of eight bytes;
BYTE_STREAM_SPLIT groups the equity's bytes by significance, which snappy
then finds runs in (a flat curve, the sign and exponent bytes). A 25-run
batch of 2,609 daily bars shrinks from 741 to 242 kB for the same encode
time, and its S3 PUT with it. Both encodings are part of Parquet 2 and read
by pyarrow, pandas, polars, DuckDB and Spark.

Trades: few rows; dictionary encoding pays only on the repetitive text
columns. Snappy throughout: for a 4,000-bar curve zstd saves a few kB for
more encoding time, and decodes slower on every read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROW_GROUP_ROWS = 65536  # the results service reads a row group's batches at a time


@dataclass(frozen=True)
class ParquetEncoding:
    """Writer options of one artifact kind.

    compression: codec of every column.
    dictionary_columns: columns dictionary-encoded; every other column is not.
    column_encoding: column -> Parquet encoding, for columns without a dictionary.
    statistics_columns: columns whose pages and chunks carry min/max statistics; None: every column.
    """

    compression: str
    dictionary_columns: tuple[str, ...] = ()
    column_encoding: dict[str, str] = field(default_factory=dict)
    statistics_columns: tuple[str, ...] | None = None

    def writer_options(self) -> dict[str, Any]:
        """Keyword arguments of `pyarrow.parquet.ParquetWriter` (and `write_table`)."""
        options: dict[str, Any] = {
            "compression": self.compression,
            "use_dictionary": list(self.dictionary_columns) if self.dictionary_columns else False,
        }
        if self.column_encoding:
            options["column_encoding"] = dict(self.column_encoding)
        if self.statistics_columns is not None:
            options["write_statistics"] = list(self.statistics_columns) if self.statistics_columns else False
        return options


# Statistics on the dates only: a reader filtering by date (DuckDB, polars, Spark) can skip
# row groups by them; nothing skips by the equity's min and max, which cost a pass over the
# values (about 3 ms of a million-row curve's encode). The results service reads neither.
EQUITY_ENCODING = ParquetEncoding(
    "snappy",
    column_encoding={"date": "DELTA_BINARY_PACKED", "equity": "BYTE_STREAM_SPLIT"},
    statistics_columns=("date",),
)
TRADES_ENCODING = ParquetEncoding("snappy", dictionary_columns=("side", "status"))
