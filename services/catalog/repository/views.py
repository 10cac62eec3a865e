"""What the repositories hand out: plain, frozen records, whatever query produced the row.

An ORM entity, a Core row and a RETURNING mapping of the same table all
become the same view, so converters and use cases never care which one a
repository used (the hot paths use Core statements, CRUD the ORM).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Self


class _View:
    @classmethod
    def of(cls, row: Any) -> Self:
        """The view of `row`: an ORM entity, a Core row or a mapping holding at least the view's fields."""
        get = row.__getitem__ if isinstance(row, dict) else (lambda name: getattr(row, name))
        return cls(**{f.name: get(f.name) for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class BacktestView(_View):
    """A backtest record as clients see it."""

    id: uuid.UUID
    strategy_id: uuid.UUID
    engine: str
    status: str
    initial_capital: float
    commission: float
    slippage: float
    config: dict[str, Any]
    metrics: dict[str, Any]
    trades_uri: str | None
    equity_curve_uri: str | None
    sweep_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StrategyView(_View):
    """A strategy record."""

    id: uuid.UUID
    name: str
    description: str | None
    universe: list[str]
    params: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TaskView(_View):
    """A task as GetTask shows it (without `params`, a sweep's run list, which no poll needs)."""

    id: uuid.UUID
    kind: str
    status: str
    backtest_id: uuid.UUID | None
    succeeded: int
    failed: int
    revoked: int
    total: int
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SeriesView(_View):
    """The index entry of a stored market-data series."""

    symbol: str
    timeframe: str
    start: datetime
    end: datetime
    rows: int
    sha256: str
    object_uri: str


@dataclass(frozen=True)
class SignalLogicView(_View):
    """A signal logic at its current version."""

    id: uuid.UUID
    name: str
    description: str | None
    rule_tree: list[Any]
    output_mode: str
    position_mode: str
    strategy_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SignalSeriesView(_View):
    """The index entry of a stored model-output series."""

    name: str
    symbols: list[str]
    start: datetime
    end: datetime
    rows: int
    sha256: str
    object_uri: str
