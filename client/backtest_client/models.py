"""The records the client hands out, typed; each owns its conversion from (and to) the wire JSON."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from backtest_client._wire import (
    BacktestWire,
    CreateBacktestWire,
    RunConfigWire,
    SeriesWire,
    StrategyWire,
    TaskWire,
)

if TYPE_CHECKING:
    from backtest_client.signals import SignalLogic

DateLike = str | dt.date | dt.datetime | pd.Timestamp
# Task states after which nothing changes.
FINISHED = ("SUCCESS", "FAILURE", "REVOKED")
# The plugin a config runs when it names neither a plugin nor a signal logic.
DEFAULT_PLUGIN = "crossover_signal"
# Execution options of a config that take the server's default when left out.
OPTIONS = ("bars_per_year", "risk_free_rate", "size_type", "fill_price", "allow_short", "size")


def iso(value: DateLike) -> str:
    """A date or date-time as the API takes it: ISO-8601 text (strings pass through)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):  # pd.Timestamp included
        return value.isoformat()
    return value.isoformat()


def timestamp(text: str | None) -> pd.Timestamp | None:
    """An API time (RFC 3339) as a pandas Timestamp; None stays None."""
    return pd.Timestamp(text) if text else None


@dataclass(frozen=True)
class RunConfig:
    """What a backtest runs: a symbol's bars over a date range, a signal and execution options.

    symbol: ticker of a stored series, e.g. "AAPL".
    start, end: first and last bar included (ISO text, date or datetime).
    plugin: signal plugin key, e.g. "rsi_signal"; "crossover_signal" when neither it nor `logic` is given.
    params: the plugin's parameters, e.g. {"fast_period": 10, "slow_period": 50}, or the values of a
        signal logic's $params, e.g. {"lower": 30, "upper": 70}.
    timeframe: bar size of the series: 1m, 5m, 15m, 1h, 1d (default) or 1w.
    The rest default on the server when None: bars_per_year (from the
    timeframe), risk_free_rate (0.0), size_type ("percent"), fill_price
    ("close"), allow_short (False), size (1.0 of equity).
    logic: a stored signal logic (a `SignalLogic` or its id; kept as the id) to run instead of a plugin.
    logic_version: the logic's version a stored run used (set by the platform; never sent).
    """

    symbol: str
    start: DateLike
    end: DateLike
    plugin: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    timeframe: str = "1d"
    bars_per_year: int | None = None
    risk_free_rate: float | None = None
    size_type: str | None = None
    fill_price: str | None = None
    allow_short: bool | None = None
    size: float | None = None
    logic: str | SignalLogic | None = None
    logic_version: int | None = None

    def __post_init__(self) -> None:
        # Frozen: the normalised values go in the way dataclasses' own __init__ puts them.
        if self.logic is not None and not isinstance(self.logic, str):
            object.__setattr__(self, "logic", self.logic.id)
        if self.logic is None and self.plugin is None:
            object.__setattr__(self, "plugin", DEFAULT_PLUGIN)
        if self.logic is not None and self.plugin is not None:
            raise ValueError(f"a config runs a plugin ({self.plugin!r}) or a signal logic ({self.logic}), not both")

    @classmethod
    def expression(
        cls,
        symbol: str,
        start: DateLike,
        end: DateLike,
        *,
        entry: str | None = None,
        exit: str | None = None,
        short_entry: str | None = None,
        short_exit: str | None = None,
        exposure: str | None = None,
        params: dict[str, Any] | None = None,
        **options: Any,
    ) -> RunConfig:
        """A config of the `expression` plugin: a rule written in the signal expression language.

        Give `entry` and `exit` conditions (and optionally `short_entry` with `short_exit`, used when
        allow_short is set), or one `exposure` number instead; docs/strategies.md has the language.
        symbol, start, end: as for RunConfig.
        entry, exit, short_entry, short_exit: conditions, e.g. "crossover(sma(close, $fast), sma(close, $slow))".
        exposure: the target exposure per bar, clipped to [-1, 1], e.g. "where(close > sma(close, 50), 1, 0)".
        params: the values of the $params the expressions use, e.g. {"fast": 10, "slow": 50}.
        options: the other RunConfig fields (timeframe, allow_short, size_type, ...).
        """
        texts = (entry, exit, short_entry, short_exit, exposure)
        names = ("entry", "exit", "short_entry", "short_exit", "exposure")
        rules = {name: text for name, text in zip(names, texts, strict=True) if text is not None}
        return cls(symbol, start, end, plugin="expression", params={**rules, **(params or {})}, **options)

    @property
    def signal(self) -> str:
        """What makes the signal, for people: the plugin key, or "signal logic <id>"."""
        return self.plugin if self.logic is None else f"signal logic {self.logic}"

    def to_wire(self) -> RunConfigWire:
        """The config as the API's `config` object; unset options are left out."""
        wire: dict[str, Any] = {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "start_date": iso(self.start),
            "end_date": iso(self.end),
            "signal_plugin_params": dict(self.params),
        }
        if self.logic is not None:
            wire["signal_logic_id"] = self.logic
        else:
            wire["signal_plugin_key"] = self.plugin
        for name in OPTIONS:
            value = getattr(self, name)
            if value is not None:
                wire[name] = value
        return wire  # type: ignore[return-value]

    @classmethod
    def from_wire(cls, wire: RunConfigWire) -> RunConfig:
        """The config of a stored backtest (every default resolved)."""
        return cls(
            symbol=wire["symbol"],
            start=wire["start_date"],
            end=wire["end_date"],
            plugin=wire.get("signal_plugin_key"),
            params=_whole_numbers(wire.get("signal_plugin_params") or {}),
            timeframe=wire["timeframe"],
            bars_per_year=wire.get("bars_per_year"),
            risk_free_rate=wire.get("risk_free_rate"),
            size_type=wire.get("size_type"),
            fill_price=wire.get("fill_price"),
            allow_short=wire.get("allow_short"),
            size=wire.get("size"),
            logic=wire.get("signal_logic_id"),
            logic_version=wire.get("signal_logic_version"),
        )


@dataclass(frozen=True)
class BacktestSpec:
    """A backtest to create: a strategy, a config, an engine and costs (None: the server's default).

    strategy_id: the strategy it belongs to.
    config: what it runs.
    engine: "vectorbt" (default) or "backtrader".
    initial_capital: starting capital (100000.0). commission, slippage: fractions (0.0005 each).
    """

    strategy_id: str
    config: RunConfig
    engine: str | None = None
    initial_capital: float | None = None
    commission: float | None = None
    slippage: float | None = None

    def to_wire(self) -> CreateBacktestWire:
        """The POST /backtests body."""
        wire: dict[str, Any] = {"strategy_id": self.strategy_id, "config": self.config.to_wire()}
        for name in ("engine", "initial_capital", "commission", "slippage"):
            value = getattr(self, name)
            if value is not None:
                wire[name] = value
        return wire  # type: ignore[return-value]


@dataclass(frozen=True)
class Backtest:
    """A stored backtest.

    status: "pending", "running", "completed" or "failed".
    metrics: the flat metrics dict ({"error": reason} when failed).
    structured_metrics: the same metrics grouped (performance, risk, trading); None unless completed.
    sweep_id: the sweep task that created it, if any.
    """

    id: str
    strategy_id: str
    engine: str
    status: str
    initial_capital: float
    commission: float
    slippage: float
    config: RunConfig
    metrics: dict[str, Any]
    structured_metrics: dict[str, Any] | None
    trades_uri: str | None
    equity_curve_uri: str | None
    created_at: pd.Timestamp | None
    updated_at: pd.Timestamp | None
    sweep_id: str | None = None

    @property
    def error(self) -> str | None:
        """Why the run failed, when it did."""
        return str(self.metrics.get("error")) if self.status == "failed" else None

    @classmethod
    def from_wire(cls, wire: BacktestWire) -> Backtest:
        """A backtest from GET /backtests/{id} (or a sync execute's answer)."""
        return cls(
            id=wire["id"],
            strategy_id=wire["strategy_id"],
            engine=wire["engine"],
            status=wire["status"],
            initial_capital=wire["initial_capital"],
            commission=wire["commission"],
            slippage=wire["slippage"],
            config=RunConfig.from_wire(wire["config"]),
            metrics=dict(wire.get("metrics") or {}),
            structured_metrics=wire.get("structured_metrics") or None,
            trades_uri=wire.get("trades_uri"),
            equity_curve_uri=wire.get("equity_curve_uri"),
            created_at=timestamp(wire.get("created_at")),
            updated_at=timestamp(wire.get("updated_at")),
            sweep_id=wire.get("sweep_id"),
        )


@dataclass(frozen=True)
class Strategy:
    """A strategy backtests attach to."""

    id: str
    name: str
    description: str | None
    universe: list[str]
    params: dict[str, Any]
    created_at: pd.Timestamp | None
    updated_at: pd.Timestamp | None

    @classmethod
    def from_wire(cls, wire: StrategyWire) -> Strategy:
        """A strategy from GET /strategies/{id}."""
        return cls(
            id=wire["id"],
            name=wire["name"],
            description=wire.get("description"),
            universe=list(wire.get("universe") or []),
            params=dict(wire.get("params") or {}),
            created_at=timestamp(wire.get("created_at")),
            updated_at=timestamp(wire.get("updated_at")),
        )


@dataclass(frozen=True)
class SeriesSummary:
    """A stored market-data series: its first and last bar, bar count and file hash."""

    symbol: str
    timeframe: str
    start: pd.Timestamp
    end: pd.Timestamp
    rows: int
    sha256: str

    @classmethod
    def from_wire(cls, wire: SeriesWire) -> SeriesSummary:
        """A series from GET /market-data/{symbol}/{timeframe}."""
        return cls(
            symbol=wire["symbol"],
            timeframe=wire["timeframe"],
            start=pd.Timestamp(wire["start"]),
            end=pd.Timestamp(wire["end"]),
            rows=int(wire["rows"]),
            sha256=wire["sha256"],
        )


@dataclass(frozen=True)
class Progress:
    """Runs of a task: succeeded, failed, and in all; revoked: dropped by a cancel before they finished."""

    succeeded: int
    failed: int
    total: int
    revoked: int = 0

    @classmethod
    def from_wire(cls, wire: dict[str, Any] | None) -> Progress:
        """The `progress` object of a task or a task update."""
        wire = wire or {}
        return cls(*(int(wire.get(key, 0)) for key in ("succeeded", "failed", "total", "revoked")))

    @property
    def settled(self) -> int:
        """Runs finished, successfully or not."""
        return self.succeeded + self.failed


@dataclass(frozen=True)
class TaskState:
    """A task as last polled.

    status: PENDING, STARTED, PROGRESS, SUCCESS, FAILURE or REVOKED (cancelled).
    kind: "execute" or "sweep".
    result: the run's summary, or the sweep's leaderboard document, once done.
    """

    task_id: str
    status: str
    kind: str
    backtest_id: str | None
    progress: Progress
    result: dict[str, Any]
    error: str | None
    created_at: pd.Timestamp | None
    updated_at: pd.Timestamp | None

    @property
    def done(self) -> bool:
        """Whether the task has finished, one way or the other."""
        return self.status in FINISHED

    @classmethod
    def from_wire(cls, wire: TaskWire) -> TaskState:
        """A task from GET /tasks/{id}."""
        progress = wire.get("progress") or {}
        return cls(
            task_id=wire["task_id"],
            status=wire["status"],
            kind=wire.get("kind", ""),
            backtest_id=wire.get("backtest_id"),
            progress=Progress.from_wire(progress),
            result=dict(wire.get("result") or {}),
            error=wire.get("error"),
            created_at=timestamp(wire.get("created_at")),
            updated_at=timestamp(wire.get("updated_at")),
        )


def _whole_numbers(values: dict[str, Any]) -> dict[str, Any]:
    """Plugin parameters with whole-number floats as ints: JSON through a protobuf Struct has only floats."""
    return {k: int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 else v for k, v in values.items()}


@dataclass(frozen=True)
class BestRun:
    """The best completed run of a task so far: its id, the metric ranked by, and its value."""

    backtest_id: str
    metric: str
    value: float


@dataclass(frozen=True)
class TaskUpdate:
    """One element of a task's live progress (`client.watch_task`): the task as it stood then.

    best: the best completed run so far, None until one completed with a value of the metric.
    """

    task_id: str
    status: str
    progress: Progress
    best: BestRun | None
    updated_at: pd.Timestamp | None

    @property
    def done(self) -> bool:
        """Whether the task has ended: this is the watch's last update."""
        return self.status in FINISHED

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> TaskUpdate:
        """An element of GET /tasks/{id}/events."""
        best = wire.get("best")
        return cls(
            task_id=wire["task_id"],
            status=wire["status"],
            progress=Progress.from_wire(wire.get("progress")),
            best=BestRun(best["backtest_id"], best["metric"], float(best["value"])) if best else None,
            updated_at=timestamp(wire.get("updated_at")),
        )
