"""`Client`: the platform's REST API from Python, one attribute per resource plus the everyday shortcuts."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any, TypedDict, Unpack

import httpx
import pandas as pd

from backtest_client._transport import DEFAULT_TIMEOUT_S, Transport
from backtest_client.models import BacktestSpec, RunConfig, TaskState, TaskUpdate
from backtest_client.resources.backtests import Backtests
from backtest_client.resources.market_data import MarketData
from backtest_client.resources.reports import Reports
from backtest_client.resources.signal_logic import SignalLogicResource
from backtest_client.resources.signal_plugins import SignalPlugins
from backtest_client.resources.signal_series import SignalSeries
from backtest_client.resources.strategies import Strategies
from backtest_client.resources.sweeps import Grid, ParameterSpace, Sweeps
from backtest_client.resources.tasks import Tasks
from backtest_client.results import BacktestResult
from backtest_client.tasks import GridSearchTask, RunTask, SweepTask

DEFAULT_URL = "http://127.0.0.1:8080"
URL_VARIABLE, KEY_VARIABLE = "BACKTEST_API_URL", "BACKTEST_API_KEY"


class RunOptions(TypedDict, total=False):
    """What `Client.run` and `Client.submit` take besides the config; see `run`."""

    strategy_id: str | None
    engine: str | None
    initial_capital: float | None
    commission: float | None
    slippage: float | None


class Client:
    """A connection to the platform's gateway.

    url: the gateway, e.g. http://127.0.0.1:8080; default $BACKTEST_API_URL, else that address.
    api_key: sent as x-api-key; default $BACKTEST_API_KEY, else none.
    timeout: seconds for ordinary calls (sync runs and downloads wait longer).
    retries: times a 503 answer is retried (honouring Retry-After).
    transport: an httpx transport in place of the network.

    Resources: `strategies`, `backtests`, `market_data`, `tasks`, `sweeps`, `reports`, and strategies as
    data: `signal_logic` (rule trees), `signal_series` (model outputs), `signal_plugins` (discovery).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url or os.environ.get(URL_VARIABLE) or DEFAULT_URL
        key = api_key if api_key is not None else os.environ.get(KEY_VARIABLE)
        self._transport = Transport(self.url, api_key=key, timeout=timeout, retries=retries, transport=transport)
        self.strategies = Strategies(self._transport, self)
        self.backtests = Backtests(self._transport, self)
        self.market_data = MarketData(self._transport, self)
        self.tasks = Tasks(self._transport, self)
        self.sweeps = Sweeps(self._transport, self)
        self.reports = Reports(self._transport, self)
        self.signal_logic = SignalLogicResource(self._transport, self)
        self.signal_series = SignalSeries(self._transport, self)
        self.signal_plugins = SignalPlugins(self._transport, self)

    def run(self, config: RunConfig, **options: Unpack[RunOptions]) -> BacktestResult:
        """Creates a backtest of `config` and runs it synchronously; RunFailedError if the run failed.

        config: what to run: a plugin and its params, or a signal logic (`RunConfig(..., logic=...)`)
            and its $param values.
        options (all optional): strategy_id, the strategy it belongs to (None creates one named after
            the plugin or logic and the symbol); engine, "vectorbt" (default) or "backtrader"; initial_capital,
            commission, slippage (None takes the server's defaults: 100000, 0.0005, 0.0005).
        """
        return self.backtests.run(self.backtests.create(self._spec(config, options)).id)

    def submit(self, config: RunConfig, **options: Unpack[RunOptions]) -> RunTask:
        """Like `run`, but dispatched to the fleet: returns the task (`.wait()` gives the result)."""
        return self.backtests.submit(self.backtests.create(self._spec(config, options)).id)

    def sweep(
        self,
        base: RunConfig | Mapping[str, Any],
        grid: Grid,
        *,
        strategy_id: str | None = None,
        engine: str | None = None,
        rank_metric: str | None = None,
    ) -> SweepTask:
        """Runs one backtest per grid entry on the fleet; `.wait()` shows progress and returns the leaderboard.

        base: the config every entry merges over (a plugin's, or a signal logic's).
        grid: {key: [values]} (their cartesian product) or a list of override dicts; dotted keys such as
            "signal_plugin_params.fast_period" (or a logic's "signal_plugin_params.lower") reach nested values.
        strategy_id: None creates a strategy for the sweep.
        engine, rank_metric: default vectorbt and perf_sharpe_ratio.
        """
        if strategy_id is None:
            symbol = base.symbol if isinstance(base, RunConfig) else str(base.get("symbol", ""))
            strategy_id = self._adhoc_strategy(f"sweep: {signal_name(base)} on {symbol}", symbol)
        return self.sweeps.create(strategy_id, base, grid, engine=engine, rank_metric=rank_metric)

    def cancel_task(self, task_id: str) -> TaskState:
        """Cancels a task (a run or a sweep); returns it REVOKED with its counts (`client.tasks.cancel`)."""
        return self.tasks.cancel(task_id)

    def watch_task(self, task_id: str) -> Iterator[TaskUpdate]:
        """Iterates over a task's progress as it changes, ending when the task ends (`client.tasks.watch`)."""
        return self.tasks.watch(task_id)

    def grid_search(
        self,
        base: RunConfig | Mapping[str, Any],
        space: ParameterSpace,
        *,
        strategy_id: str | None = None,
        engine: str | None = None,
        rank_metric: str | None = None,
        top_n: int | None = None,
    ) -> GridSearchTask:
        """Runs every combination of `space` (at most 10,000) on the fleet; `.wait()` returns the top entries.

        space: per dotted key, a list of values or {"start", "stop", "step"}, e.g.
            {"signal_plugin_params.fast_period": {"start": 5, "stop": 50, "step": 1}}.
        rank_metric: default perf_sharpe_ratio; "perf_deflated_sharpe_ratio" ranks by the deflated Sharpe ratio.
        The handle's `.runs()` is every run as a DataFrame, `.overfitting()` the search's DSR and PBO figures.
        """
        if strategy_id is None:
            symbol = base.symbol if isinstance(base, RunConfig) else str(base.get("symbol", ""))
            strategy_id = self._adhoc_strategy(f"grid search: {signal_name(base)} on {symbol}", symbol)
        return self.sweeps.grid_search(strategy_id, base, space, engine=engine, rank_metric=rank_metric, top_n=top_n)

    def compare(self, *backtest_ids: str) -> pd.DataFrame:
        """2 to 10 runs side by side: one row per metric, a column per run, `direction` and the `best` run's id."""
        return self.backtests.compare(list(backtest_ids))

    def result(self, backtest_id: str) -> BacktestResult:
        """The result of a completed backtest."""
        return self.backtests.result(backtest_id)

    def close(self) -> None:
        """Closes the pooled connections."""
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Client {self.url}>"

    def _spec(self, config: RunConfig, options: RunOptions) -> BacktestSpec:
        strategy_id = options.get("strategy_id")
        if strategy_id is None:
            strategy_id = self._adhoc_strategy(f"{config.signal} on {config.symbol}", config.symbol)
        costs = {k: options.get(k) for k in ("engine", "initial_capital", "commission", "slippage")}
        return BacktestSpec(strategy_id, config, **costs)

    def _adhoc_strategy(self, name: str, symbol: str) -> str:
        universe = [symbol] if symbol else []
        return self.strategies.create(name, description="created by backtest-client", universe=universe).id


def signal_name(config: RunConfig | Mapping[str, Any]) -> str:
    """What makes a config's signal, for people: its plugin key, or "signal logic <id>".

    config: a RunConfig, or the API's config dict (a sweep's base_config).
    """
    if isinstance(config, RunConfig):
        return config.signal
    logic = config.get("signal_logic_id")
    return f"signal logic {logic}" if logic else str(config.get("signal_plugin_key", ""))
