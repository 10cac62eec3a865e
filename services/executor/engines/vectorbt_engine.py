"""vectorbt adapter: one `Portfolio.from_order_func` call per run, or per batch of runs.

vectorbt executes the orders, charges fees and slippage, keeps cash and
position, and builds the trade (position) records; the Numba order function
only decides each order's size with the shared rule in `_sizing`. Many
parameter sets run as columns of one simulation (`run_many`), which is how
sweeps stay fast.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import vectorbt as vbt
from numba import njit
from vectorbt.portfolio import nb as pnb
from vectorbt.portfolio.enums import TradeDirection, TradeStatus

from services.domain.errors import ValidationError
from services.domain.execution import EngineResult, ExecutionSpec, Trade
from services.executor.engines._inputs import check_bars, check_signal, check_spec
from services.executor.engines._sizing import SIZE_TYPE_CODES, effective_signal, order_quantity


@njit
def _order_func_nb(c, open_, close, signal, size_type, size, commission, slippage, next_open):
    """Sizes this bar's order for column `c.col`; vectorbt fills it."""
    col = c.col
    i = c.i
    if next_open[col]:
        # The signal of bar i-1 fills at bar i's open.
        if i == 0:
            return pnb.order_nothing_nb()
        now = signal[i - 1, col]
        before = signal[i - 2, col] if i >= 2 else 0.0
        price = open_[i, col]
    else:
        now = signal[i, col]
        before = signal[i - 1, col] if i >= 1 else 0.0
        price = close[i, col]
    qty = order_quantity(
        now, before, c.position_now, c.cash_now, price, size_type[col], size[col], commission[col], slippage[col]
    )
    if qty == 0.0:
        return pnb.order_nothing_nb()
    # Sizes already fit the cash: a partial fill or a rejection is a bug, so fail loudly.
    return pnb.order_nb(
        size=qty,
        price=price,
        fees=commission[col],
        slippage=slippage[col],
        allow_partial=False,
        raise_reject=True,
    )


def _column(values: np.ndarray, k: int) -> np.ndarray:
    """One price column repeated for `k` parameter sets, as the order function indexes it."""
    return np.ascontiguousarray(np.repeat(values[:, None], k, axis=1))


def _trades(records: np.ndarray, index: pd.DatetimeIndex, last_close: float) -> list[Trade]:
    """Trades from vectorbt's position records of one column, in entry order."""
    trades = []
    for rec in np.sort(records, order="entry_idx"):
        is_open = rec["status"] == TradeStatus.Open
        trades.append(
            Trade(
                entry_date=index[rec["entry_idx"]],
                exit_date=None if is_open else index[rec["exit_idx"]],
                side="long" if rec["direction"] == TradeDirection.Long else "short",
                entry_price=float(rec["entry_price"]),
                # vectorbt blends partial exits into an open position's exit price; ours is the last close.
                exit_price=last_close if is_open else float(rec["exit_price"]),
                size=float(rec["size"]),
                pnl=float(rec["pnl"]),
                return_pct=float(rec["return"]),
                status="open" if is_open else "closed",
            )
        )
    return trades


class VectorbtEngine:
    """Runs backtests on vectorbt."""

    name = "vectorbt"

    def warm_up(self) -> None:
        """Compiles the simulation, value, asset and position code on eight bars, every size type."""
        index = pd.date_range("2000-01-03", periods=8, freq="D")
        close = np.array([10.0, 11.0, 10.5, 12.0, 11.0, 11.5, 12.5, 12.0])
        bars = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=index)
        signal = np.array([0.0, 1.0, 0.5, -1.0, -1.0, 0.0, 1.0, 1.0])
        specs = [
            ExecutionSpec(size_type=size_type, fill_price=fill, allow_short=True, size=1.0)
            for size_type in SIZE_TYPE_CODES
            for fill in ("close", "next_open")
        ]
        self.run_many(bars, [signal] * len(specs), specs)
        self.run(bars, signal, specs[0])

    def run(self, bars: pd.DataFrame, signal: np.ndarray, spec: ExecutionSpec) -> EngineResult:
        """Runs one backtest.

        bars: OHLCV frame on a sorted, unique, tz-naive DatetimeIndex.
        signal: target exposure in [-1, 1] per bar.
        spec: how orders are sized and filled.
        """
        return self.run_many(bars, [signal], [spec])[0]

    def run_many(
        self, bars: pd.DataFrame, signals: Sequence[np.ndarray], specs: Sequence[ExecutionSpec]
    ) -> list[EngineResult]:
        """Runs one backtest per (signal, spec) pair over the same bars in one vectorbt call.

        bars: OHLCV frame shared by every run.
        signals: one target-exposure array per run.
        specs: one execution spec per run, in the same order.
        """
        check_bars(bars)
        if len(signals) != len(specs) or not specs:
            raise ValidationError.single("specs", "needs one spec per signal, and at least one")
        for j, (signal, spec) in enumerate(zip(signals, specs)):
            check_signal(signal, len(bars), f"signals[{j}]")
            check_spec(spec, f"specs[{j}]")

        k = len(specs)
        close = bars["close"].to_numpy(dtype=np.float64)
        close2d = _column(close, k)
        signal2d = np.ascontiguousarray(
            np.column_stack([effective_signal(s, spec.allow_short) for s, spec in zip(signals, specs)])
        )
        portfolio = vbt.Portfolio.from_order_func(
            pd.DataFrame(close2d, index=bars.index),
            _order_func_nb,
            _column(bars["open"].to_numpy(dtype=np.float64), k),
            close2d,
            signal2d,
            np.array([SIZE_TYPE_CODES[s.size_type] for s in specs], dtype=np.int64),
            np.array([s.size for s in specs], dtype=np.float64),
            np.array([s.commission for s in specs], dtype=np.float64),
            np.array([s.slippage for s in specs], dtype=np.float64),
            np.array([s.fill_price == "next_open" for s in specs], dtype=np.bool_),
            init_cash=np.array([s.initial_capital for s in specs], dtype=np.float64),
            max_logs=0,
        )
        equity = portfolio.value().to_numpy()
        position = portfolio.assets().to_numpy()
        orders = portfolio.orders.values
        notional = np.bincount(orders["col"], weights=orders["size"] * orders["price"], minlength=k)
        positions = portfolio.positions.values

        return [
            EngineResult(
                equity=pd.Series(equity[:, j], index=bars.index, name="equity"),
                position=pd.Series(position[:, j], index=bars.index, name="position"),
                trades=_trades(positions[positions["col"] == j], bars.index, float(close[-1])),
                traded_notional=float(notional[j]),
            )
            for j in range(k)
        ]
