"""What an engine is asked to do and what it gives back, engine-agnostic.

Both engine adapters take an `ExecutionSpec` plus bars and a target-exposure
signal, and return an `EngineResult`; the metrics module and the artifact
writers only ever see these types.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np
import pandas as pd

SIZE_TYPES = ("percent", "shares", "signal_weight")
FILL_PRICES = ("close", "next_open")


@dataclass(frozen=True)
class ExecutionSpec:
    """How orders are sized and filled.

    initial_capital: starting cash.
    commission: fee as a fraction of traded notional.
    slippage: fraction the fill price moves against the trader.
    size_type: "percent" (fraction `size` of equity), "shares" (`size` shares)
        or "signal_weight" (exposure equals the signal value).
    size: 1.0 of equity for percent by default; share count for shares.
    fill_price: "close" of the signal bar, or "next_open" of the bar after.
    allow_short: whether negative signals open short positions.
    """

    initial_capital: float = 100_000.0
    commission: float = 0.0005
    slippage: float = 0.0005
    size_type: str = "percent"
    size: float = 1.0
    fill_price: str = "close"
    allow_short: bool = False


@dataclass(frozen=True)
class Trade:
    """One round trip, or a position still open at the end of the run."""

    entry_date: pd.Timestamp
    exit_date: pd.Timestamp | None
    side: str  # "long" or "short"
    entry_price: float
    exit_price: float  # last close for an open trade
    size: float  # shares, positive
    pnl: float  # net of entry and exit commissions
    return_pct: float  # pnl / entry notional
    status: str  # "closed" or "open"


TRADE_NUMBERS = ("entry_price", "exit_price", "size", "pnl", "return_pct")


@dataclass(frozen=True)
class TradeColumns:
    """A trade list as columns, one row per trade, in entry order.

    entry_date, exit_date: dates in the bars' unit and zone (NaT exit for an open trade).
    long, closed: whether each trade is long, and closed.
    entry_price .. return_pct: float64 arrays, as the fields of `Trade`.
    """

    entry_date: pd.DatetimeIndex
    exit_date: pd.DatetimeIndex
    long: np.ndarray
    closed: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    size: np.ndarray
    pnl: np.ndarray
    return_pct: np.ndarray

    def __len__(self) -> int:
        return len(self.pnl)

    def side(self) -> np.ndarray:
        """Per trade, "long" or "short"."""
        return np.where(self.long, "long", "short").astype(object)

    def status(self) -> np.ndarray:
        """Per trade, "closed" or "open"."""
        return np.where(self.closed, "closed", "open").astype(object)

    def row(self, i: int) -> Trade:
        """Trade `i` as a `Trade`."""
        exit_date = self.exit_date[i]
        return Trade(
            entry_date=self.entry_date[i],
            exit_date=None if pd.isna(exit_date) else exit_date,
            side="long" if self.long[i] else "short",
            entry_price=float(self.entry_price[i]),
            exit_price=float(self.exit_price[i]),
            size=float(self.size[i]),
            pnl=float(self.pnl[i]),
            return_pct=float(self.return_pct[i]),
            status="closed" if self.closed[i] else "open",
        )


class TradeList(Sequence[Trade]):
    """Trades held as `TradeColumns`: a sequence of `Trade`, each built only when read.

    An engine that has its trades as arrays returns this, so the metrics and
    the artifact writer read the columns and a million-bar run's ten
    thousand trades never become Python objects unless someone asks for them.
    """

    def __init__(self, columns: TradeColumns) -> None:
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns)

    @overload
    def __getitem__(self, index: int) -> Trade: ...
    @overload
    def __getitem__(self, index: slice) -> list[Trade]: ...
    def __getitem__(self, index: int | slice) -> Trade | list[Trade]:
        if isinstance(index, slice):
            return [self.columns.row(i) for i in range(len(self))[index]]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return self.columns.row(index % len(self))

    def __iter__(self) -> Iterator[Trade]:
        return (self.columns.row(i) for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    def __repr__(self) -> str:
        return f"TradeList({list(self)!r})"


def trade_columns(trades: Sequence[Trade], like: pd.DatetimeIndex) -> TradeColumns:
    """`trades` as columns, dates in the unit and zone of `like` (the bar timestamps)."""
    if isinstance(trades, TradeList):
        return trades.columns

    def dates(name: str) -> pd.DatetimeIndex:
        values = pd.DatetimeIndex([getattr(t, name) for t in trades])
        if values.tz is None and like.tz is not None:
            values = values.tz_localize(like.tz)
        return values.as_unit(like.unit)

    numbers = {
        name: np.fromiter((getattr(t, name) for t in trades), dtype="float64", count=len(trades))
        for name in TRADE_NUMBERS
    }
    return TradeColumns(
        entry_date=dates("entry_date"),
        exit_date=dates("exit_date"),
        long=np.fromiter((t.side == "long" for t in trades), dtype=bool, count=len(trades)),
        closed=np.fromiter((t.status == "closed" for t in trades), dtype=bool, count=len(trades)),
        **numbers,
    )


@dataclass
class EngineResult:
    """Output of one engine run.

    equity: portfolio value at every bar close, indexed by bar timestamp.
    position: signed share count held at every bar close.
    trades: round trips in entry order (a list, or a `TradeList` over columns).
    traded_notional: sum of |shares * fill price| over all fills.
    """

    equity: pd.Series
    position: pd.Series
    trades: Sequence[Trade] = field(default_factory=list)
    traded_notional: float = 0.0
