"""Python client of the backtest platform's REST API.

from backtest_client import Client, RunConfig
client = Client()                       # $BACKTEST_API_URL or http://127.0.0.1:8080
result = client.run(RunConfig("AAPL", "2020-01-01", "2024-01-01", params={"fast_period": 10, "slow_period": 50}))
result.metrics, result.equity, result.trades, result.plot(), result.report("aapl.html")

tree = [{"action": "BUY", "rules": [{"field": "rsi(close, 14)", "operator": "<", "value": "$lower"}]},
        {"action": "SELL", "rules": [{"field": "rsi(close, 14)", "operator": ">", "value": "$upper"}]}]
logic = client.signal_logic.create("rsi mean reversion", tree, position_mode="long_only")
client.run(RunConfig("AAPL", "2020-01-01", "2024-01-01", logic=logic, params={"lower": 30, "upper": 70}))
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
from backtest_client.models import (
    Backtest,
    BacktestSpec,
    BestRun,
    Progress,
    RunConfig,
    SeriesSummary,
    Strategy,
    TaskState,
    TaskUpdate,
)
from backtest_client.reports import Report
from backtest_client.results import BacktestResult
from backtest_client.signals import (
    ExpressionLanguage,
    LanguageFunction,
    Rule,
    RuleBranch,
    RuleGroup,
    RuleTree,
    SignalLogic,
    SignalPlugin,
    SignalSeriesSummary,
)
from backtest_client.tasks import GridSearchTask, RunTask, SweepTask

__all__ = [
    "ApiConnectionError",
    "AuthenticationError",
    "Backtest",
    "BacktestError",
    "BacktestResult",
    "BacktestSpec",
    "BestRun",
    "Client",
    "ConflictError",
    "ExpressionLanguage",
    "FieldViolation",
    "GatewayTimeoutError",
    "LanguageFunction",
    "NotFoundError",
    "Progress",
    "Report",
    "Rule",
    "RuleBranch",
    "RuleGroup",
    "RuleTree",
    "RunConfig",
    "RunFailedError",
    "RunTask",
    "SeriesSummary",
    "ServerError",
    "SignalLogic",
    "SignalPlugin",
    "SignalSeriesSummary",
    "Strategy",
    "GridSearchTask",
    "SweepTask",
    "TaskState",
    "TaskUpdate",
    "UnavailableError",
    "ValidationError",
]
