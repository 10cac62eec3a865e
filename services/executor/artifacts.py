"""Writes a run's equity curve and trade list as Parquet to the object store.

Layout (the results service reads exactly this): equity has a DatetimeIndex
named `date` and one float column `equity`; trades have no index and the
columns of TRADE_COLUMNS, exit_date null for an open trade.
"""

from __future__ import annotations

import io

import pandas as pd

from services.adapters.object_store import PARQUET_CONTENT_TYPE, ObjectStore
from services.domain.execution import EngineResult

TRADE_COLUMNS = ["entry_date", "exit_date", "side", "entry_price", "exit_price", "size", "pnl", "return_pct", "status"]


def equity_frame(result: EngineResult) -> pd.DataFrame:
    """The equity curve as stored: date index, `equity` column."""
    index = pd.DatetimeIndex(result.equity.index, name="date")
    return pd.DataFrame({"equity": result.equity.to_numpy(dtype="float64")}, index=index)


def trades_frame(result: EngineResult) -> pd.DataFrame:
    """The trade list as stored: one row per trade, no index."""
    rows = [{name: getattr(trade, name) for name in TRADE_COLUMNS} for trade in result.trades]
    frame = pd.DataFrame(rows, columns=TRADE_COLUMNS)
    frame["entry_date"] = pd.to_datetime(frame["entry_date"])
    frame["exit_date"] = pd.to_datetime(frame["exit_date"])
    for name in ("entry_price", "exit_price", "size", "pnl", "return_pct"):
        frame[name] = frame[name].astype("float64")
    return frame


def parquet_bytes(frame: pd.DataFrame, *, index: bool) -> bytes:
    """The frame as a Parquet file in memory."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=index, row_group_size=65536)
    return buffer.getvalue()


def write_artifacts(store: ObjectStore, backtest_id: str, result: EngineResult) -> tuple[str, str]:
    """Stores both artifacts of a run and returns (equity_curve_uri, trades_uri).

    store: the artifact store.
    backtest_id: run the artifacts belong to; keys live under artifacts/<id>/.
    result: the engine's output.
    """
    equity_uri = store.put_bytes(f"artifacts/{backtest_id}/equity.parquet", parquet_bytes(equity_frame(result), index=True), content_type=PARQUET_CONTENT_TYPE)
    trades_uri = store.put_bytes(f"artifacts/{backtest_id}/trades.parquet", parquet_bytes(trades_frame(result), index=False), content_type=PARQUET_CONTENT_TYPE)
    return equity_uri, trades_uri
