"""Python client of the backtest platform's REST API.

from backtest_client import Client, RunConfig
client = Client()                       # $BACKTEST_API_URL or http://127.0.0.1:8080
result = client.run(RunConfig("AAPL", "2020-01-01", "2024-01-01", params={"fast_period": 10, "slow_period": 50}))
result.metrics, result.equity, result.trades, result.plot(), result.report("aapl.html")
"""

from backtest_client.client import Client
from backtest_client.errors import (
    ApiConnectionError,
    AuthenticationError,
    BacktestError,
    ConflictError,
    FieldViolation,
    GatewayTimeoutError,
    NotFoundError,
    RunFailedError,
    ServerError,
    UnavailableError,
    ValidationError,
)
from backtest_client.models import Backtest, BacktestSpec, Progress, RunConfig, SeriesSummary, Strategy, TaskState
from backtest_client.reports import Report
from backtest_client.results import BacktestResult
from backtest_client.tasks import RunTask, SweepTask

__all__ = [
    "ApiConnectionError",
    "AuthenticationError",
    "Backtest",
    "BacktestError",
    "BacktestResult",
    "BacktestSpec",
    "Client",
    "ConflictError",
    "FieldViolation",
    "GatewayTimeoutError",
    "NotFoundError",
    "Progress",
    "Report",
    "RunConfig",
    "RunFailedError",
    "RunTask",
    "SeriesSummary",
    "ServerError",
    "Strategy",
    "SweepTask",
    "TaskState",
    "UnavailableError",
    "ValidationError",
]
