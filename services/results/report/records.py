"""What a report knows of the catalog's records: a whole backtest, and a task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.results.records import BacktestRecord


@dataclass(frozen=True)
class RunRecord:
    """A backtest as the catalog reports it, with everything a tearsheet prints.

    id, strategy_id: UUIDs. engine, status: as stored.
    initial_capital, commission, slippage: the run's capital and cost fractions.
    config: the resolved run config (symbol, timeframe, dates, plugin, ...), as JSON.
    metrics: the flat metrics dict. structured_metrics: its grouped form (empty unless completed).
    equity_curve_uri, trades_uri: the artifacts, None until completed.
    bars_sha256: the version of the stored bars its run read ("" before any run).
    """

    id: str
    strategy_id: str
    engine: str
    status: str
    initial_capital: float
    commission: float
    slippage: float
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    structured_metrics: dict[str, Any] = field(default_factory=dict)
    equity_curve_uri: str | None = None
    trades_uri: str | None = None
    bars_sha256: str = ""

    def artifact_record(self) -> BacktestRecord:
        """The part the artifact reader checks (status, URIs)."""
        return BacktestRecord(
            id=self.id,
            engine=self.engine,
            status=self.status,
            metrics=self.metrics,
            equity_curve_uri=self.equity_curve_uri,
            trades_uri=self.trades_uri,
        )


@dataclass(frozen=True)
class TaskRecord:
    """A task as the catalog reports it.

    task_id: UUID. kind: "execute" or "sweep". status: PENDING ... SUCCESS / FAILURE.
    backtest_id: the executed backtest (execute tasks only).
    result: a sweep's leaderboard document, or an execute's summary; empty until done.
    error: reason of a FAILURE.
    """

    task_id: str
    kind: str
    status: str
    backtest_id: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
