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
from vectorbt.portfolio.enums import RejectedOrderError, TradeDirection, TradeStatus

from services.domain.errors import ValidationError
from services.domain.execution import EngineResult, ExecutionSpec, Trade
from services.executor.engines._inputs import check_bars, check_signal, check_spec
from services.executor.engines._sizing import SIZE_TYPE_CODES, effective_signal, order_quantity
from services.executor.engines._warm_up import SPECS as WARM_UP_SPECS
from services.executor.engines._warm_up import tiny_inputs
from services.executor.engines.base import SHORT_SQUEEZE, EngineError


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
    # Sizing fits buys to the cash, so a rejection means a short that cannot be bought back: fail loudly.
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
    records = np.sort(records, order="entry_idx")
    # Box the dates in two vectorised calls: per-trade index lookups dominate otherwise.
    entry_dates = index[records["entry_idx"]].tolist()
    exit_dates = index[records["exit_idx"]].tolist()
    trades = []
    for rec, entry_date, exit_date in zip(records.tolist(), entry_dates, exit_dates):
        row = dict(zip(records.dtype.names, rec))
        is_open = row["status"] == TradeStatus.Open
        trades.append(
            Trade(
                entry_date=entry_date,
                exit_date=None if is_open else exit_date,
                side="long" if row["direction"] == TradeDirection.Long else "short",
                entry_price=row["entry_price"],
                # vectorbt blends partial exits into an open position's exit price; ours is the last close.
                exit_price=last_close if is_open else row["exit_price"],
                size=row["size"],
                pnl=row["pnl"],
                return_pct=row["return"],
                status="open" if is_open else "closed",
            )
        )
    return trades


def _simulate(bars: pd.DataFrame, signals: Sequence[np.ndarray], specs: Sequence[ExecutionSpec]) -> vbt.Portfolio:
    """One vectorbt simulation with a column per (signal, spec) pair."""
    k = len(specs)
    close2d = _column(bars["close"].to_numpy(dtype=np.float64), k)
    signal2d = np.column_stack([effective_signal(s, spec.allow_short) for s, spec in zip(signals, specs)])
    return vbt.Portfolio.from_order_func(
        pd.DataFrame(close2d, index=bars.index),
        _order_func_nb,
        _column(bars["open"].to_numpy(dtype=np.float64), k),
        close2d,
        np.ascontiguousarray(signal2d),
        np.array([SIZE_TYPE_CODES[s.size_type] for s in specs], dtype=np.int64),
        np.array([s.size for s in specs], dtype=np.float64),
        np.array([s.commission for s in specs], dtype=np.float64),
        np.array([s.slippage for s in specs], dtype=np.float64),
        np.array([s.fill_price == "next_open" for s in specs], dtype=np.bool_),
        init_cash=np.array([s.initial_capital for s in specs], dtype=np.float64),
        max_logs=0,  # logs are off per order anyway; skip allocating their buffer
    )


class VectorbtEngine:
    """Runs backtests on vectorbt."""

    name = "vectorbt"

    def warm_up(self) -> None:
        """Compiles the simulation and the value, asset and position code on eight bars, every size type."""
        bars, signal = tiny_inputs()
        self.run_many(bars, [signal] * len(WARM_UP_SPECS), WARM_UP_SPECS)
        self.run(bars, signal, WARM_UP_SPECS[0])

    def run(self, bars: pd.DataFrame, signal: np.ndarray, spec: ExecutionSpec) -> EngineResult:
        """Runs one backtest.

        bars: OHLCV frame on a sorted, unique, tz-naive DatetimeIndex.
        signal: target exposure in [-1, 1] per bar.
        spec: how orders are sized and filled.
        """
        # Checked here too so that errors name "signal" and "spec", not "signals[0]".
        check_signal(signal, len(bars))
        check_spec(spec)
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
        try:
            portfolio = _simulate(bars, signals, specs)
        except RejectedOrderError as exc:
            # Sizing keeps every buy within the cash, except buying back a short whose loss exceeds it.
            raise EngineError(f"vectorbt rejected an order ({exc}): {SHORT_SQUEEZE}") from exc
        equity = portfolio.value().to_numpy()
        position = portfolio.assets().to_numpy()
        orders = portfolio.order_records  # the raw records: a Records wrapper costs more than the sum
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
