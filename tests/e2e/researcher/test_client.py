"""The Python client against the stack: every resource, results as pandas, sweeps, compare, errors, reports."""

from __future__ import annotations

import math
import uuid

import httpx
import matplotlib
import numpy as np
import pandas as pd
import pytest

from backtest_client import (
    BacktestSpec,
    ConflictError,
    NotFoundError,
    RunConfig,
    RunFailedError,
    ValidationError,
)
from tests.e2e.conformance import synthetic_bars

matplotlib.use("Agg")  # no display in tests


def test_strategies_are_created_listed_fetched_and_deleted(client):
    created = client.strategies.create("toolkit", description="client test", universe=["AAPL"], params={"k": 1})
    assert client.strategies.get(created.id) == created
    assert created.id in [s.id for s in client.strategies.list(limit=1000)]
    assert created.universe == ["AAPL"] and created.params == {"k": 1}
    client.strategies.delete(created.id)
    with pytest.raises(NotFoundError, match=created.id):
        client.strategies.get(created.id)


def test_a_csv_file_is_imported_and_its_series_listed(client, tmp_path):
    symbol = synthetic_bars.unique_symbol("CSV")
    path = tmp_path / "bars.csv"
    path.write_bytes(synthetic_bars.to_csv(synthetic_bars.daily(120), date_only=True))
    summary = client.market_data.import_file(path, symbol=symbol, timeframe="1d")
    assert summary.rows == 120 and summary.start == pd.Timestamp("2021-01-04")
    assert client.market_data.get(symbol, "1d") == summary
    assert summary in client.market_data.list()


def test_run_gives_metrics_as_a_dict_equity_as_a_series_and_trades_as_a_frame(client, completed, gateway_url):
    assert completed.backtest.status == "completed"
    assert isinstance(completed.metrics["perf_sharpe_ratio"], float)
    assert completed.structured_metrics["performance"]["sharpe_ratio"] == completed.metrics["perf_sharpe_ratio"]
    equity = completed.equity
    assert isinstance(equity, pd.Series) and isinstance(equity.index, pd.DatetimeIndex) and len(equity) == 500
    trades = completed.trades
    assert isinstance(trades, pd.DataFrame) and len(trades) == completed.metrics["trade_total_trades"]
    assert {"entry_date", "exit_date", "side", "pnl", "return_pct", "status"} <= set(trades.columns)
    # The Parquet download holds what the JSON rendering does, typed.
    curve = httpx.get(f"{gateway_url}/api/v1/backtests/{completed.id}/equity-curve").json()
    assert np.allclose(equity.to_numpy(), [p["equity"] for p in curve])
    assert equity.iloc[-1] / completed.backtest.initial_capital - 1 == pytest.approx(completed.metrics["total_return"])


def test_equity_and_trades_take_a_window_and_a_bar_size_the_service_applies(client, completed):
    equity, trades = completed.equity, completed.trades
    start, end = equity.index[100], equity.index[300]
    window = client.backtests.equity(completed.id, start=start.isoformat(), end=end.strftime("%Y-%m-%d"))
    assert list(window.index) == list(equity.loc[start:end].index) and window.tolist() == equity.loc[start:end].tolist()
    assert window.index.name == "date" and window.name == "equity"
    weekly = client.backtests.equity(completed.id, every="1w")
    assert weekly.tolist() == equity.resample("1W").last().dropna().tolist()
    assert list(weekly.index) == list(equity.index.to_series().resample("1W").last().dropna())  # each week's last bar
    assert client.backtests.equity(completed.id, start="2100-01-01").empty

    first, last = trades["entry_date"].iloc[1], trades["entry_date"].iloc[-2]
    chosen = client.backtests.trades(completed.id, start=first.isoformat(), end=last.isoformat())
    expected = trades[(trades["entry_date"] >= first) & (trades["entry_date"] <= last)].reset_index(drop=True)
    assert list(chosen.columns) == list(trades.columns)
    assert chosen["pnl"].tolist() == expected["pnl"].tolist() and chosen["side"].tolist() == expected["side"].tolist()
    assert list(chosen["entry_date"]) == list(expected["entry_date"])
    with pytest.raises(ValidationError, match="every"):
        client.backtests.equity(completed.id, every="2w")


def test_a_submitted_run_is_waited_for_and_matches_the_other_engine(client, daily, completed):
    task = client.submit(daily[1], engine="backtrader", strategy_id=completed.backtest.strategy_id)
    result = task.wait()
    assert result.backtest.engine == "backtrader" and result.id == task.backtest_id
    assert client.tasks.get(task.task_id).status == "SUCCESS"
    # Both engines hold to one rule set: the same config gives the same results.
    assert result.metrics["total_return"] == pytest.approx(completed.metrics["total_return"], abs=1e-6)


def test_a_sweep_reports_progress_and_ranks_its_runs(swept):
    handle, board, states = swept
    assert states[-1].status == "SUCCESS" and states[-1].progress.total == 6
    assert all(s.progress.settled <= s.progress.total for s in states)
    assert list(board.index) == [1, 2, 3, 4, 5, 6]
    assert {"signal_plugin_params.fast_period", "signal_plugin_params.slow_period"} <= set(board.columns)
    sharpe = board["perf_sharpe_ratio"].to_numpy(dtype=float)
    assert np.all(np.diff(sharpe[~np.isnan(sharpe)]) <= 0)
    assert board.equals(handle.leaderboard())


def test_compare_marks_the_best_run_of_each_metric(client, swept):
    board = swept[1]
    ids = list(board["backtest_id"][:3])
    frame = client.compare(*ids)
    assert list(frame.columns) == [*ids, "direction", "best"]
    for metric, row in frame.iterrows():
        values = {i: row[i] for i in ids if isinstance(row[i], (int, float)) and math.isfinite(row[i])}
        if row["direction"] == "neutral" or not values:
            assert row["best"] is None, metric
        else:
            pick = max if row["direction"] == "higher" else min
            assert values[row["best"]] == pick(values.values()), metric


def test_a_validation_error_names_each_bad_field(client, daily):
    symbol, config = daily
    bad = RunConfig(symbol, config.end, config.start, plugin="no_such_plugin")
    with pytest.raises(ValidationError) as caught:
        client.run(bad, engine="zipline")
    fields = {v.field for v in caught.value.violations}
    assert {"engine", "config.end_date", "config.signal_plugin_key"} <= fields
    assert "engine" in str(caught.value) and "config.signal_plugin_key" in str(caught.value)


def test_unknown_records_are_not_found_and_unfinished_results_conflict(client, daily, completed):
    missing = str(uuid.uuid4())
    with pytest.raises(NotFoundError, match=missing):
        client.backtests.get(missing)
    pending = client.backtests.create(BacktestSpec(completed.backtest.strategy_id, daily[1]))
    with pytest.raises(ConflictError, match="pending"):
        client.backtests.equity(pending.id)
    with pytest.raises(ConflictError, match="pending"):
        client.reports.backtest(pending.id)


def test_a_run_without_data_raises_run_failed_with_the_reason(client, daily):
    symbol = synthetic_bars.unique_symbol("NODATA")
    config = RunConfig(symbol, daily[1].start, daily[1].end, params={"fast_period": 5, "slow_period": 20})
    with pytest.raises(RunFailedError) as caught:
        client.run(config)
    assert symbol in caught.value.reason
    with pytest.raises(RunFailedError, match=symbol):
        client.submit(config).wait()


def test_the_report_is_saved_and_shows_in_a_notebook(completed, tmp_path):
    report = completed.report(tmp_path / "tearsheet.html")
    saved = (tmp_path / "tearsheet.html").read_text()
    assert saved == report.html and saved.startswith("<!DOCTYPE html>") and saved.count('<svg class="chart"') == 5
    assert report._repr_html_().startswith("<iframe srcdoc=")


def test_plot_draws_equity_and_drawdown(completed):
    figure = completed.plot()
    top, bottom = figure.axes
    assert len(top.lines[0].get_xdata()) == len(completed.equity)
    drawn = bottom.lines[0].get_ydata()
    assert min(drawn) == pytest.approx(-completed.metrics["risk_max_drawdown"])
