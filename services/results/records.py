"""What the results service knows about a backtest: the part of the catalog record it reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COMPLETED = "completed"


@dataclass(frozen=True)
class BacktestRecord:
    """A backtest as the catalog reports it.

    id: UUID of the backtest.
    engine: engine of the run, e.g. "vectorbt".
    status: lifecycle status: "pending", "running", "completed" or "failed".
    metrics: flat metrics dict; empty until a run finishes.
    equity_curve_uri: object-store URI of the equity-curve Parquet, None until completed.
    trades_uri: object-store URI of the trades Parquet, None until completed.
    """

    id: str
    engine: str
    status: str
    metrics: dict[str, Any] = field(default_factory=dict)
    equity_curve_uri: str | None = None
    trades_uri: str | None = None
