"""What an engine is asked to do and what it gives back, engine-agnostic.

Both engine adapters take an `ExecutionSpec` plus bars and a target-exposure
signal, and return an `EngineResult`; the metrics module and the artifact
writers only ever see these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass
class EngineResult:
    """Output of one engine run.

    equity: portfolio value at every bar close, indexed by bar timestamp.
    position: signed share count held at every bar close.
    trades: round trips in entry order.
    traded_notional: sum of |shares * fill price| over all fills.
    """

    equity: pd.Series
    position: pd.Series
    trades: list[Trade] = field(default_factory=list)
    traded_notional: float = 0.0
