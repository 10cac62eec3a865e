"""The REST conformance suite's fixtures: a client bound to the gateway under test, and its own data.

GATEWAY_URL=http://host:port points the suite at any gateway (Envoy
included); without it the session's embedded stack serves. Everything the
tests read they first create: a strategy, and synthetic market data under a
symbol unique to the run, so no sample data is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

from . import runs, synthetic_bars, target
from .http_client import Api

# Backtrader worked through 11,000-17,000 of these one-minute bars a second
# where we measured; sizing for 32,000 keeps the run well past the deadline.
BARS_PER_SECOND_UPPER = 32_000
# The gateway's upload limit is 60 MiB.
MAX_UPLOAD_ROWS = 60 * 1024 * 1024 // synthetic_bars.MINUTE_ROW_BYTES - 1_000


@dataclass(frozen=True)
class Series:
    """A market-data series the suite imported, and the bars it sent."""

    symbol: str
    timeframe: str
    frame: pd.DataFrame
    summary: dict[str, Any]
    """The import's response: {symbol, timeframe, start, end, rows, sha256}."""

    def stamp(self, position: int) -> str:
        """ISO timestamp of the bar at `position` (negative counts from the end)."""
        return self.frame.index[position].strftime("%Y-%m-%dT%H:%M:%S")

    def config(self, *, first: int = 0, last: int = -1, **overrides: Any) -> dict[str, Any]:
        """A crossover run config over bars first..last (inclusive); overrides replace keys."""
        config = {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "start_date": self.stamp(first),
            "end_date": self.stamp(last),
            "signal_plugin_key": "crossover_signal",
            "signal_plugin_params": {"fast_period": 5, "slow_period": 20},
        }
        config.update(overrides)
        return config

    def bars_between(self, start: str, end: str) -> int:
        """Bars with start <= timestamp <= end."""
        index = self.frame.index
        return int(((index >= pd.Timestamp(start)) & (index <= pd.Timestamp(end))).sum())


def import_series(api: Api, symbol: str, timeframe: str, frame: pd.DataFrame) -> Series:
    """PUT the bars as CSV; fails the test unless 200."""
    body = synthetic_bars.to_csv(frame, date_only=timeframe in ("1d", "1w"))
    response = api.put(f"/market-data/{symbol}/{timeframe}", body=body, content_type="text/csv")
    assert response.status == 200, response
    return Series(symbol, timeframe, frame, response.json())


@pytest.fixture(scope="session")
def conformance_target() -> target.Target:
    """The deployment under test, as the environment names it."""
    return target.load()


@pytest.fixture(scope="session")
def api(conformance_target: target.Target, request: pytest.FixtureRequest) -> Api:
    """A client of GATEWAY_URL, else of the embedded stack's gateway (started only then)."""
    url = conformance_target.gateway_url or request.getfixturevalue("stack").gateway_url
    return Api(url, api_key=conformance_target.api_key)


@pytest.fixture(scope="session")
def daily(api: Api) -> Series:
    """500 synthetic daily bars under a fresh symbol."""
    return import_series(api, synthetic_bars.unique_symbol(), "1d", synthetic_bars.daily())


@pytest.fixture(scope="session")
def minute(api: Api, conformance_target: target.Target) -> Series:
    """One-minute bars enough for a backtrader run to outlive the sync deadline (imported on first use)."""
    rows = min(MAX_UPLOAD_ROWS, math.ceil(conformance_target.sync_deadline_s * BARS_PER_SECOND_UPPER))
    return import_series(api, synthetic_bars.unique_symbol(), "1m", synthetic_bars.minutes(rows))


@pytest.fixture(scope="session")
def no_data_symbol(api: Api) -> str:
    """A valid symbol with no stored series."""
    symbol = synthetic_bars.unique_symbol("NODATA")
    assert api.get(f"/market-data/{symbol}/1d").status == 404
    return symbol


@pytest.fixture(scope="session")
def strategy(api: Api) -> dict[str, Any]:
    """A strategy the session's backtests attach to."""
    return runs.create_strategy(api, "conformance", description="REST conformance suite", universe=["CONF"])


@pytest.fixture(scope="session")
def completed(api: Api, strategy: dict[str, Any], daily: Series) -> dict[str, Any]:
    """A completed vectorbt run over the whole daily series, as GET returns it."""
    return runs.run_to_completion(api, strategy["id"], daily.config())


@pytest.fixture
def fresh_strategy(api: Api) -> dict[str, Any]:
    """A strategy of this test alone, so listing its backtests shows only the test's own."""
    return runs.create_strategy(api, "conformance-scratch")
