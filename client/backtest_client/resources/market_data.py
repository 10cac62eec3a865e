"""Market data: /api/v1/market-data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtest_client.models import SeriesSummary
from backtest_client.resources import Resource
from backtest_client.resources.uploads import IMPORT_TIMEOUT_S, file_body, frame_body


class MarketData(Resource):
    """Import, list and get stored OHLCV series."""

    def import_file(self, path: str | Path, *, symbol: str, timeframe: str) -> SeriesSummary:
        """Replaces the series (symbol, timeframe) with a CSV or Parquet file.

        path: the file; columns timestamp (or date), open, high, low, close, volume. `.parquet`/`.pq`
            files are sent as Parquet, anything else as CSV.
        symbol: ticker, e.g. "AAPL". timeframe: 1m, 5m, 15m, 1h, 1d or 1w.
        """
        return self._put(symbol, timeframe, *file_body(path))

    def import_frame(self, bars: pd.DataFrame, *, symbol: str, timeframe: str) -> SeriesSummary:
        """Replaces the series with a DataFrame's bars (sent as Parquet).

        bars: columns open, high, low, close, volume and a timestamp column or a DatetimeIndex.
        """
        return self._put(symbol, timeframe, *frame_body(bars, index=isinstance(bars.index, pd.DatetimeIndex)))

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
