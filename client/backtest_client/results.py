"""A completed run's results: metrics as a dict, the equity curve as a Series, trades as a DataFrame.

The curve and the trades come from the Parquet downloads (typed columns,
a fraction of the JSON's size), fetched on first use and kept.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from backtest_client.models import Backtest

if TYPE_CHECKING:
    from backtest_client.client import Client
    from backtest_client.reports import Report


class BacktestResult:
    """The outcome of a completed backtest.

    backtest: the stored record (config, engine, status, metrics).
    """

    def __init__(self, client: Client, backtest: Backtest) -> None:
        self._client = client
        self.backtest = backtest

    @property
    def id(self) -> str:
        """UUID of the backtest."""
        return self.backtest.id

    @property
    def metrics(self) -> dict[str, Any]:
        """Flat metrics, e.g. {"total_return": 0.42, "perf_sharpe_ratio": 1.1, "risk_max_drawdown": 0.18, ...}."""
        return self.backtest.metrics

    @property
    def structured_metrics(self) -> dict[str, Any]:
        """The same metrics grouped: total_return, bars_in_market, performance, risk, trading."""
        return self.backtest.structured_metrics or {}

    @cached_property
    def equity(self) -> pd.Series:
        """Portfolio value at every bar close, on a DatetimeIndex named "date"."""
        return self._client.backtests.equity(self.id)

    @cached_property
    def trades(self) -> pd.DataFrame:
        """One row per round trip.

        Columns: entry_date, exit_date, side, entry_price, exit_price, size, pnl, return_pct, status.
        """
        return self._client.backtests.trades(self.id)

    def plot(self, **figure_options: Any):
        """Draws equity and drawdown with matplotlib (install the `plot` extra) and returns the Figure.

        figure_options: passed to `matplotlib.pyplot.subplots`, e.g. figsize=(12, 6).
        """
        from backtest_client.plotting import plot_result

        return plot_result(self, **figure_options)

    def report(self, path: str | Path | None = None) -> Report:
        """The HTML tearsheet; written to `path` when given. In a notebook it shows inline; `.open()` opens a browser.

        path: where to save the page (an .html file).
        """
        report = self._client.reports.backtest(self.id)
        if path is not None:
            report.save(path)
        return report

    def __repr__(self) -> str:
        config = self.backtest.config
        shown = ", ".join(
            f"{key}={self.metrics[key]:.4g}"
            for key in ("total_return", "perf_sharpe_ratio", "risk_max_drawdown")
            if isinstance(self.metrics.get(key), (int, float))
        )
        return f"<BacktestResult {self.id} {config.symbol} {config.timeframe} {self.backtest.engine}: {shown}>"
