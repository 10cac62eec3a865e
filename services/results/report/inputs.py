"""Everything a tearsheet reads, loaded whole: the run's equity and trades, and its symbol's closes.

Blocking (S3 and Parquet): call from a worker thread. Buy-and-hold needs
the closes of the run's own bars, read from the stored series the run read
(`market-data/<symbol>/<timeframe>.parquet`), only the row groups that
overlap the run and only two columns. A series re-imported since the run
may no longer hold those bars; the report then says so instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from services.adapters.market_data import object_key, version_key
from services.adapters.object_store import CHUNK_BYTES, ObjectStore
from services.adapters.ranged_object import RangedObject
from services.domain.errors import NotFoundError, PlatformError
from services.results.artifacts import EQUITY, TRADE_COLUMNS, TRADES, Artifacts
from services.results.report.records import RunRecord


@dataclass(frozen=True)
class RunInputs:
    """A completed run's data.

    run: the catalog record.
    equity: portfolio value per bar, on a DatetimeIndex.
    trades: one row per trade, the columns of the trades artifact.
    close: the symbol's close at each equity date, or None when the stored bars no longer cover the run.
    close_note: why `close` is None.
    """

    run: RunRecord
    equity: pd.Series
    trades: pd.DataFrame
    close: pd.Series | None
    close_note: str | None = None


def load_run_inputs(artifacts: Artifacts, run: RunRecord) -> RunInputs:
    """Reads a completed run's artifacts and bars; ConflictError (409) unless the run is completed.

    artifacts: reader of the artifact store (its store also holds the bars).
    run: the catalog record of the run.
    """
    record = run.artifact_record()
    table = artifacts.read_table(record, EQUITY, ["date", "equity"])
    dates = pd.DatetimeIndex(table.column("date").to_numpy(), name="date")
    equity = pd.Series(table.column("equity").to_numpy(), index=dates, name="equity")
    trades = _plain_frame(artifacts.read_table(record, TRADES, list(TRADE_COLUMNS)))
    close, note = None, None
    if len(equity):
        try:
            close = window_close(
                artifacts.store, run.config["symbol"], run.config["timeframe"], dates, bars_sha256=run.bars_sha256
            )
        except (PlatformError, OSError, pa.ArrowException, KeyError) as err:
            note = f"buy-and-hold not drawn: the stored bars could not be read ({err})"
        else:
            if close.isna().any():
                close, note = None, "buy-and-hold not drawn: the stored series no longer holds every bar of the run"
    return RunInputs(run=run, equity=equity, trades=trades, close=close, close_note=note)


def window_close(
    store: ObjectStore, symbol: str, timeframe: str, dates: pd.DatetimeIndex, *, bars_sha256: str = ""
) -> pd.Series:
    """The stored close of `symbol` at each of `dates` (NaN where the series has no such bar).

    store: the object store holding the series.
    symbol, timeframe: the series.
    dates: bar timestamps, sorted; only row groups overlapping dates[0]..dates[-1] are read.
    bars_sha256: the version the run read (its object, while kept); empty: the series' pre-versioning key.
    """
    key = version_key(symbol, timeframe, bars_sha256) if bars_sha256 else object_key(symbol, timeframe)
    size = store.size(key)
    if size is None:
        raise NotFoundError("market-data series", f"{symbol}/{timeframe}")
    parquet = pq.ParquetFile(RangedObject(store, key, size), buffer_size=CHUNK_BYTES, pre_buffer=False)
    first, last = dates[0].to_datetime64(), dates[-1].to_datetime64()
    groups = [i for i in range(parquet.num_row_groups) if _overlaps(parquet.metadata.row_group(i), first, last)]
    table = parquet.read_row_groups(groups, columns=["timestamp", "close"], use_threads=False)
    stamps = pd.DatetimeIndex(table.column("timestamp").to_numpy())
    close = pd.Series(table.column("close").to_numpy(), index=stamps)
    return close.reindex(dates)


def _overlaps(group: pq.RowGroupMetaData, first: np.datetime64, last: np.datetime64) -> bool:
    """Whether a row group's timestamps may fall within [first, last] (no statistics: assume so)."""
    stats = group.column(0).statistics
    if stats is None or not stats.has_min_max:
        return True
    return np.datetime64(stats.max) >= first and np.datetime64(stats.min) <= last


def _plain_frame(table: pa.Table) -> pd.DataFrame:
    """The trades as a frame with a plain range index (the artifact stores none)."""
    return pd.DataFrame({name: table.column(name).to_pandas() for name in table.column_names})
