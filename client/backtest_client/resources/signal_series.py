"""Model-output series: /api/v1/signal-series, numbers per symbol and timestamp read by `series("name")`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtest_client.resources import Resource
from backtest_client.resources.uploads import IMPORT_TIMEOUT_S, file_body, frame_body
from backtest_client.signals import SignalSeriesSummary


def series_rows(values: pd.DataFrame | pd.Series) -> pd.DataFrame:
    """A series' values as the upload's rows: columns timestamp, symbol and value.

    values: a DataFrame with those columns, or with some of them as named index levels (a DatetimeIndex
        without a name counts as `timestamp`); or a Series of the values whose index holds the others,
        e.g. indexed by (timestamp, symbol).
    """
    table = values.to_frame(values.name or "value") if isinstance(values, pd.Series) else values
    if isinstance(table.index, pd.DatetimeIndex) and table.index.name is None:
        table = table.rename_axis("timestamp")
    if any(name is not None for name in table.index.names):
        table = table.reset_index()
    return table


class SignalSeries(Resource):
    """Import, list and get model-output series."""

    def import_file(self, path: str | Path, *, name: str) -> SignalSeriesSummary:
        """Replaces the series `name` with a CSV or Parquet file; ValidationError naming the first bad row.

        path: the file; columns timestamp (or date), symbol, value. `.parquet`/`.pq` files are sent as
            Parquet, anything else as CSV.
        name: 1-64 letters, digits, "_", "-" or ".", starting with a letter or a digit.
        """
        return self._put(name, *file_body(path))

    def import_frame(self, values: pd.DataFrame | pd.Series, *, name: str) -> SignalSeriesSummary:
        """Replaces the series `name` with a DataFrame's (or a Series') values, sent as Parquet.

        values: timestamp, symbol and value, as columns or index levels (see `series_rows`).
        name: as for `import_file`.
        """
        return self._put(name, *frame_body(series_rows(values), index=False))

    def list(self) -> list[SignalSeriesSummary]:
        """Every stored series."""
        return [SignalSeriesSummary.from_wire(item) for item in self._transport.json("GET", "/signal-series")]

    def get(self, name: str) -> SignalSeriesSummary:
        """One series; NotFoundError when it is not stored."""
        return SignalSeriesSummary.from_wire(self._transport.json("GET", f"/signal-series/{name}"))

    def _put(self, name: str, data: bytes, content_type: str) -> SignalSeriesSummary:
        wire = self._transport.json(
            "PUT", f"/signal-series/{name}", content=data, content_type=content_type, timeout=IMPORT_TIMEOUT_S
        )
        return SignalSeriesSummary.from_wire(wire)
