"""The JSON the REST API speaks, as TypedDicts: what goes over the wire, and nothing else.

User-facing types (`models`) own the conversion both ways (`from_wire`,
`to_wire`); nothing outside them reads these dicts. Field names are the
API's (snake_case, as the seed document has them).
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class RunConfigWire(TypedDict):
    symbol: str
    timeframe: str
    start_date: str
    end_date: str
    # One of the two: a plugin, or a stored signal logic (whose version a run records when claimed).
    signal_plugin_key: NotRequired[str]
    signal_logic_id: NotRequired[str]
    signal_logic_version: NotRequired[int]
    signal_plugin_params: dict[str, Any]
    bars_per_year: NotRequired[int]
    risk_free_rate: NotRequired[float]
    size_type: NotRequired[str]
    fill_price: NotRequired[str]
    allow_short: NotRequired[bool]
    size: NotRequired[float]


class BacktestWire(TypedDict):
    id: str
    strategy_id: str
    engine: str
    status: str
    initial_capital: float
    commission: float
    slippage: float
    config: RunConfigWire
    metrics: dict[str, Any]
    trades_uri: NotRequired[str | None]
    equity_curve_uri: NotRequired[str | None]
    created_at: str
    updated_at: str
    structured_metrics: NotRequired[dict[str, Any]]
    sweep_id: NotRequired[str | None]


class CreateBacktestWire(TypedDict):
    strategy_id: str
    config: RunConfigWire
    engine: NotRequired[str]
    initial_capital: NotRequired[float]
    commission: NotRequired[float]
    slippage: NotRequired[float]


class StrategyWire(TypedDict):
    id: str
    name: str
    description: NotRequired[str | None]
    universe: list[str]
    params: dict[str, Any]
    created_at: str
    updated_at: str


class SeriesWire(TypedDict):
    symbol: str
    timeframe: str
    start: str
    end: str
    rows: int
    sha256: str


class ProgressWire(TypedDict):
    succeeded: int
    failed: int
    total: int


class TaskWire(TypedDict):
    task_id: str
    status: str
    kind: str
    backtest_id: NotRequired[str | None]
    progress: ProgressWire
    result: dict[str, Any]
    error: NotRequired[str | None]
    created_at: str
    updated_at: str


class TaskRefWire(TypedDict):
    task_id: str
    status: str


class SweepRequestWire(TypedDict):
    strategy_id: str
    base_config: dict[str, Any]
    param_grid: list[dict[str, Any]]
    engine: NotRequired[str]
    rank_metric: NotRequired[str]


class SweepRefWire(TypedDict):
    task_id: str
    status: str
    n_configs: int


class MetricDiffWire(TypedDict):
    values: dict[str, Any]
    best_id: str | None
    higher_is_better: NotRequired[bool]
    direction: str


class CompareWire(TypedDict):
    runs: list[dict[str, Any]]
    metric_diff: dict[str, MetricDiffWire]


class LeaderboardEntryWire(TypedDict):
    rank: int
    backtest_id: str
    overrides: dict[str, Any]
    config: dict[str, Any]
    metrics: dict[str, Any]
    status: str
    error: str | None


class SignalLogicWire(TypedDict):
    id: str
    name: str
    description: NotRequired[str | None]
    rule_tree: list[dict[str, Any]]
    output_mode: str
    position_mode: str
    strategy_id: NotRequired[str | None]
    version: int
    created_at: str
    updated_at: str


class SignalSeriesWire(TypedDict):
    name: str
    symbols: list[str]
    start: str
    end: str
    rows: int
    sha256: str


class LanguageArgumentWire(TypedDict):
    name: str
    kind: str


class LanguageFunctionWire(TypedDict):
    name: str
    arity: int
    signature: str
    arguments: list[LanguageArgumentWire]
    returns: str
    description: str


class LanguageWire(TypedDict):
    names: list[str]
    parameters: str
    operators: dict[str, list[str]]
    functions: list[LanguageFunctionWire]
    limits: dict[str, int]


class SignalPluginWire(TypedDict):
    key: str
    description: str
    parameters: dict[str, Any]
    source: str
    language: NotRequired[LanguageWire | None]
