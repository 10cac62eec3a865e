"""Market data: /api/v1/market-data."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from backtest_client.models import SeriesSummary
from backtest_client.resources import Resource

PARQUET = "application/vnd.apache.parquet"
CSV = "text/csv"
# Uploads of a few hundred thousand rows take seconds to validate and store.
IMPORT_TIMEOUT_S = 300.0


class MarketData(Resource):
    """Import, list and get stored OHLCV series."""

    def import_file(self, path: str | Path, *, symbol: str, timeframe: str) -> SeriesSummary:
        """Replaces the series (symbol, timeframe) with a CSV or Parquet file.

        path: the file; columns timestamp (or date), open, high, low, close, volume. `.parquet`/`.pq`
            files are sent as Parquet, anything else as CSV.
        symbol: ticker, e.g. "AAPL". timeframe: 1m, 5m, 15m, 1h, 1d or 1w.
        """
        file = Path(path)
        content_type = PARQUET if file.suffix.lower() in (".parquet", ".pq") else CSV
        return self._put(symbol, timeframe, file.read_bytes(), content_type)

    def import_frame(self, bars: pd.DataFrame, *, symbol: str, timeframe: str) -> SeriesSummary:
        """Replaces the series with a DataFrame's bars (sent as Parquet).

        bars: columns open, high, low, close, volume and a timestamp column or a DatetimeIndex.
        """
        buffer = io.BytesIO()
        bars.to_parquet(buffer, index=isinstance(bars.index, pd.DatetimeIndex))
        return self._put(symbol, timeframe, buffer.getvalue(), PARQUET)

    def list(self) -> list[SeriesSummary]:
        """Every stored series."""
        return [SeriesSummary.from_wire(item) for item in self._transport.json("GET", "/market-data")]

    def get(self, symbol: str, timeframe: str) -> SeriesSummary:
        """One series; NotFoundError when it is not stored."""
        return SeriesSummary.from_wire(self._transport.json("GET", f"/market-data/{symbol}/{timeframe}"))

    def _put(self, symbol: str, timeframe: str, data: bytes, content_type: str) -> SeriesSummary:
        wire = self._transport.json(
            "PUT",
            f"/market-data/{symbol}/{timeframe}",
            content=data,
            content_type=content_type,
            timeout=IMPORT_TIMEOUT_S,
        )
        return SeriesSummary.from_wire(wire)
