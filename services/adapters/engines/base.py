"""The interface every engine adapter implements, and the semantics they share.

Execution semantics (vectorbt and backtrader alike; tests/unit/engines checks
that both give the same trades and equity):

Timing
    The signal value of bar t is computed with data up to bar t's close. It is
    acted on at bar t's close (``fill_price="close"``) or at bar t+1's open
    (``"next_open"``); with next_open a signal on the last bar never fills.
    NaN signal values mean flat. Without ``allow_short`` negative values mean
    flat too. Values outside [-1, 1] (beyond rounding) are a ValidationError.

Sizing (``size_type``)
    percent
        A non-zero signal whose sign differs from the position's sign closes
        any opposite position, then opens one worth ``size`` of the equity
        left after closing: qty = size * equity / (fill * (1 + commission)),
        fractional. A zero signal closes. Same sign holds; no rebalancing.
    shares
        The same entry and exit rule with ``size`` shares.
    signal_weight
        Whenever the signal value changes, trade to target shares
        signal * size * equity / (entry_fill * (1 + commission)), where
        equity = cash + position * market price and entry_fill is the buy
        fill for a positive signal, the sell fill for a negative one
        (``size`` defaults to 1.0, so exposure = signal * equity). Crossing
        zero closes the old side in full first, as in percent.
    Buys are capped at what cash covers, fees included (so a ``shares`` or
    ``percent`` order larger than the cash is cut down); an order that spends
    all the cash is shrunk by one part in 1e12 so rounding never overdraws.
    Short sales credit their proceeds to cash and carry no margin limit;
    a run fails (EngineError) if buying back a short costs more than the
    cash, and an account whose equity is not positive opens nothing.

Prices and fees
    A buy fills at p * (1 + slippage), a sell at p * (1 - slippage), where p is
    the bar's close or open, even outside the bar's high-low range. Each fill
    pays commission * |qty * fill price|.

Outputs
    equity: cash + position * close at every bar close.
    position: signed shares held at every bar close.
    traded_notional: sum of |qty * fill price| over all fills.
    trades (in entry order): a trade runs from leaving flat to returning to flat, or to the
    bar where the position flips side (a flip ends one trade and starts the
    next in the same fill, each with its share of that fill's commission).
    For trades with several fills (signal_weight rebalances):
    size = all shares bought into the position (for a short: sold into it),
    entry_price = their volume-weighted fill price, exit_price = the
    volume-weighted price of the fills that reduced it, pnl = proceeds minus
    costs minus every commission paid in the trade, return_pct = pnl /
    (size * entry_price). A position still open at the end has status
    "open", exit_date None, exit_price = last close; its pnl values the
    shares still held at the last close (entry and any exit commissions
    deducted, none for the unrealised exit).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from services.domain.errors import PlatformError
from services.domain.execution import EngineResult, ExecutionSpec


class EngineError(PlatformError):
    """The engine could not carry out a run as specified (e.g. it rejected an order)."""


# Why both engines fail a run alike: vectorbt refuses a buy the cash cannot pay
# for, where backtrader would let the cash go negative.
SHORT_SQUEEZE = "a short position lost more than the account's cash and cannot be bought back"


@runtime_checkable
class Engine(Protocol):
    """A backtesting engine behind the platform's execution semantics.

    An adapter whose descriptor says ``batching`` (services.domain.engines) also
    offers ``run_many(bars, signals, specs)``: many runs over the same bars in
    one call, each equal to running it alone (vectorbt does).
    """

    name: str

    def warm_up(self) -> None:
        """Imports the engine and compiles what a run uses, on tiny data, so the first real run is fast."""

    def run(self, bars: pd.DataFrame, signal: np.ndarray, spec: ExecutionSpec) -> EngineResult:
        """Runs one backtest.

        bars: OHLCV frame on a sorted, unique, tz-naive DatetimeIndex.
        signal: target exposure in [-1, 1] per bar, computed with data up to that bar.
        spec: how orders are sized and filled.
        """
