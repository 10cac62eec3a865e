"""The seed's contract as data, and the checks every test module shares.

Field lists, defaults and metric directions are copied from the seed
(/work/shared/seed/backtests-api.md) and DESIGN.md, not from the code under
test: this module is what a client was promised.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from tests.fixtures.seed import seed_create_body

from .http_client import Response

# gRPC codes the error bodies carry (google.rpc.Code).
INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND, RESOURCE_EXHAUSTED, ABORTED = 3, 4, 5, 8, 10

# BacktestRead: every field of the create response, the artifact URIs
# included: the seed types them `string | null`, present as null until a run
# completes (NULLABLE lists the fields that may be null).
BACKTEST_FIELDS = frozenset(
    {
        "trades_uri",
        "equity_curve_uri",
        "id",
        "strategy_id",
        "engine",
        "status",
        "initial_capital",
        "commission",
        "slippage",
        "config",
        "metrics",
        "created_at",
        "updated_at",
        "bars_sha256",
    }
)
NULLABLE = frozenset({"trades_uri", "equity_curve_uri", "exit_date"})
# Sync execute's BacktestResultResponse.
RESULT_FIELDS = frozenset(
    {
        "id",
        "strategy_id",
        "engine",
        "status",
        "metrics",
        "structured_metrics",
        "equity_curve_uri",
        "trades_uri",
        "created_at",
        "updated_at",
    }
)
STATUSES = ("pending", "running", "completed", "failed")
ENGINES = ["backtrader", "vectorbt"]

# What the seed fills in when a create request leaves a field out.
BACKTEST_DEFAULTS = {"engine": "vectorbt", "initial_capital": 100000.0, "commission": 0.0005, "slippage": 0.0005}
CONFIG_DEFAULTS_1D = {"bars_per_year": 252, "risk_free_rate": 0.0, "size_type": "percent"}

# The seed's table: flat key -> path under structured_metrics.
STRUCTURED_PATHS = {
    "total_return": ("total_return",),
    "bars_in_market": ("bars_in_market",),
    "perf_cagr": ("performance", "cagr"),
    "perf_sharpe_ratio": ("performance", "sharpe_ratio"),
    "perf_sortino_ratio": ("performance", "sortino_ratio"),
    "perf_calmar_ratio": ("performance", "calmar_ratio"),
    "risk_max_drawdown": ("risk", "max_drawdown"),
    "risk_max_drawdown_duration": ("risk", "max_drawdown_duration"),
    "risk_var_95": ("risk", "var_95"),
    "risk_cvar_95": ("risk", "cvar_95"),
    "risk_var_99": ("risk", "var_99"),
    "risk_cvar_99": ("risk", "cvar_99"),
    "risk_volatility_annualised": ("risk", "volatility_annualised"),
    "trade_total_trades": ("trading", "total_trades"),
    "trade_win_rate": ("trading", "win_rate"),
    "trade_profit_factor": ("trading", "profit_factor"),
    "trade_avg_win": ("trading", "avg_win"),
    "trade_avg_loss": ("trading", "avg_loss"),
    "trade_expectancy": ("trading", "expectancy"),
    "trade_turnover_annualised": ("trading", "turnover_annualised"),
}
HIGHER_IS_BETTER = frozenset(
    {
        "perf_cagr",
        "perf_sharpe_ratio",
        "perf_sortino_ratio",
        "perf_calmar_ratio",
        "total_return",
        "trade_win_rate",
        "trade_profit_factor",
        "trade_expectancy",
        "bars_in_market",
        # Beyond the seed: the return moments stored for the deflated Sharpe ratio (docs/metrics.md).
        "returns_sharpe_per_bar",
    }
)
LOWER_IS_BETTER = frozenset(
    {
        "risk_max_drawdown",
        "risk_max_drawdown_duration",
        "risk_var_95",
        "risk_cvar_95",
        "risk_var_99",
        "risk_cvar_99",
        "risk_volatility_annualised",
    }
)
# DESIGN.md: neutral metrics get best_id null.
NEUTRAL = frozenset(
    {"trade_total_trades", "trade_turnover_annualised", "returns_count", "returns_skewness", "returns_kurtosis"}
)

EQUITY_POINT_FIELDS = frozenset({"date", "equity"})
TRADE_FIELDS = frozenset(
    {
        "entry_date",
        "side",
        "entry_price",
        "exit_price",
        "size",
        "pnl",
        "return_pct",
        "status",
    }
)
SERIES_FIELDS = frozenset({"symbol", "timeframe", "start", "end", "rows", "sha256"})
STRATEGY_FIELDS = frozenset({"id", "name", "created_at", "updated_at"})

_SHA256 = re.compile(r"[0-9a-f]{64}")


def seed_example(strategy_id: str, symbol: str) -> dict[str, Any]:
    """The seed's create example, verbatim but for our strategy and symbol."""
    return seed_create_body(strategy_id, symbol=symbol)


def is_uuid(value: Any) -> bool:
    """True for a canonical UUID string."""
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def is_timestamp(value: Any) -> bool:
    """True for an ISO-8601 date-time string (a trailing Z allowed)."""
    if not isinstance(value, str):
        return False
    try:
        parse_timestamp(value)
    except ValueError:
        return False
    return "T" in value


def parse_timestamp(value: str) -> datetime:
    """An ISO-8601 timestamp as an aware datetime (protobuf prints 0, 3, 6 or 9 fraction digits)."""
    text = value.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # fromisoformat takes at most 6 fraction digits
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    return datetime.fromisoformat(text)


def is_sha256(value: Any) -> bool:
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def error_body(response: Response, status: int, code: int) -> dict[str, Any]:
    """Checks a google.rpc.Status JSON error: HTTP `status`, gRPC `code`, a message, a details list."""
    assert response.status == status, response
    body = response.json()
    assert isinstance(body, dict) and {"code", "message", "details"} <= set(body), response
    assert body["code"] == code, response
    assert isinstance(body["message"], str) and body["message"], response
    assert isinstance(body["details"], list), response
    return body


def field_violations(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The BadRequest field violations of an error body."""
    return [
        violation
        for detail in body["details"]
        if detail.get("@type", "").endswith("/google.rpc.BadRequest")
        for violation in detail.get("field_violations", [])
    ]


def assert_rejected(response: Response, field: str) -> dict[str, Any]:
    """422 with a BadRequest field violation naming `field` (or a field under it, e.g. field.sub)."""
    body = error_body(response, 422, INVALID_ARGUMENT)
    fields = [v.get("field") for v in field_violations(body)]
    assert any(f == field or f.startswith(field + ".") or f.startswith(field + "[") for f in fields), (
        f"no violation names {field!r}: {response}"
    )
    for violation in field_violations(body):
        assert violation.get("description"), response
    return body


def assert_not_found(response: Response, *names: str) -> dict[str, Any]:
    """404 google.rpc.Status whose message names every one of `names`."""
    body = error_body(response, 404, NOT_FOUND)
    for name in names:
        assert name in body["message"], response
    return body


def assert_conflict(response: Response) -> dict[str, Any]:
    """409 google.rpc.Status (ABORTED)."""
    return error_body(response, 409, ABORTED)


def structured_value(structured: dict[str, Any], key: str) -> Any:
    """The value of flat metric `key` inside a structured_metrics block (None when absent)."""
    node: Any = structured
    for part in STRUCTURED_PATHS[key]:
        node = node.get(part) if isinstance(node, dict) else None
    return node
