"""Market data: /api/v1/market-data. Files stream up and down; none is held whole in memory."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from backtest_client.models import SeriesSummary
from backtest_client.resources import Resource
from backtest_client.resources.uploads import STREAM_TIMEOUT_S, file_pieces, frame_body


class MarketData(Resource):
    """Import, append, list, get and download stored OHLCV series."""

    def import_file(self, path: str | Path, *, symbol: str, timeframe: str, append: bool = False) -> SeriesSummary:
        """Replaces the series (symbol, timeframe) with a CSV or Parquet file of any size, streamed from disk.

        path: the file; columns timestamp (or date), open, high, low, close, volume. `.parquet`/`.pq`
            files are sent as Parquet, anything else as CSV.
        symbol: ticker, e.g. "AAPL". timeframe: 1m, 5m, 15m, 1h, 1d or 1w.
        append: add the file's bars after the series' last one instead (rows the series already
            holds must equal the stored bars, or ConflictError names the first that does not).
        """
        pieces, content_type = file_pieces(path)
        return self._send(symbol, timeframe, pieces, content_type, append=append)

    def append_file(self, path: str | Path, *, symbol: str, timeframe: str) -> SeriesSummary:
        """Adds a file's bars after the series' last one: `import_file(..., append=True)`."""
        return self.import_file(path, symbol=symbol, timeframe=timeframe, append=True)

    def import_frame(self, bars: pd.DataFrame, *, symbol: str, timeframe: str, append: bool = False) -> SeriesSummary:
        """Replaces the series with a DataFrame's bars (sent as Parquet), or appends them (`append`).

        bars: columns open, high, low, close, volume and a timestamp column or a DatetimeIndex.
        """
        data, content_type = frame_body(bars, index=isinstance(bars.index, pd.DatetimeIndex))
        return self._send(symbol, timeframe, data, content_type, append=append)

    def list(self) -> list[SeriesSummary]:
        """Every stored series."""
        return [SeriesSummary.from_wire(item) for item in self._transport.json("GET", "/market-data")]

    def get(self, symbol: str, timeframe: str) -> SeriesSummary:
        """One series; NotFoundError when it is not stored."""
        return SeriesSummary.from_wire(self._transport.json("GET", f"/market-data/{symbol}/{timeframe}"))

    def download(
        self,
        symbol: str,
        timeframe: str,
        path: str | Path,
        *,
        start: str | None = None,
        end: str | None = None,
        file_format: str = "parquet",
    ) -> Path:
        """Writes the stored bars (between start and end, inclusive) to `path` as Parquet or CSV; returns it.

        The whole series as Parquet is byte for byte the stored file (its SHA-256 is the series' sha256).
        file_format: "parquet", "csv" or "json".
        """
        target = Path(path)
        params = {"start": start, "end": end, "format": file_format}
        with target.open("wb") as sink:
            self._transport.download(f"/market-data/{symbol}/{timeframe}/bars", sink, params=params)
        return target

    def bars(self, symbol: str, timeframe: str, *, start: str | None = None, end: str | None = None) -> pd.DataFrame:
        """The stored bars (between start and end, inclusive) as a DataFrame indexed by timestamp."""
        buffer = io.BytesIO()
        params = {"start": start, "end": end}
        self._transport.download(f"/market-data/{symbol}/{timeframe}/bars", buffer, params=params)
        return pd.read_parquet(io.BytesIO(buffer.getvalue())).set_index("timestamp")

    def _send(self, symbol: str, timeframe: str, content, content_type: str, *, append: bool) -> SeriesSummary:
        path = f"/market-data/{symbol}/{timeframe}"
        wire = self._transport.json(
            "POST" if append else "PUT",
            path + "/bars" if append else path,
            content=content,
            content_type=content_type,
            timeout=STREAM_TIMEOUT_S,
        )
        return SeriesSummary.from_wire(wire)
