"""vectorbt adapter: one vectorbt simulation per run, or per batch of runs.

vectorbt executes the orders, charges fees and slippage, keeps cash and
position, and builds the trade (position) records; the Numba order function
only decides each order's size with the shared rule in `_sizing`. Many
parameter sets run as columns of one simulation (`run_many`), which is how
sweeps stay fast. The adapter calls vectorbt's Numba layer directly rather
than through a `Portfolio` object, whose Python-side set-up cost more than the
simulation itself.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import vectorbt
from numba import njit
from vectorbt.portfolio import nb as pnb
from vectorbt.portfolio.enums import Direction, RejectedOrderError, TradeDirection, TradeStatus
from vectorbt.records import nb as records_nb

from services.adapters.engines._inputs import check_bars, check_signal, check_spec
from services.adapters.engines._sizing import SIZE_TYPE_CODES, effective_signal, order_quantity
from services.adapters.engines._warm_up import SPECS as WARM_UP_SPECS
from services.adapters.engines._warm_up import tiny_inputs
from services.adapters.engines.base import SHORT_SQUEEZE, EngineError
from services.domain.errors import ValidationError
from services.domain.execution import EngineResult, ExecutionSpec, TradeColumns, TradeList

# flex_simulate_nb's parameters as `_simulate` passes them, by position.
_FLEX_SIMULATE_PARAMS = (
    "target_shape",
    "group_lens",
    "init_cash",
    "cash_sharing",
    "segment_mask",
    "call_pre_segment",
    "call_post_segment",
    "pre_sim_func_nb",
    "pre_sim_args",
    "post_sim_func_nb",
    "post_sim_args",
    "pre_group_func_nb",
    "pre_group_args",
    "post_group_func_nb",
    "post_group_args",
    "pre_segment_func_nb",
    "pre_segment_args",
    "post_segment_func_nb",
    "post_segment_args",
    "flex_order_func_nb",
    "flex_order_args",
    "post_order_func_nb",
    "post_order_args",
    "close",
    "ffill_val_price",
    "update_value",
    "fill_pos_record",
    "max_orders",
    "max_logs",
    "init_temp_records",
    "flex_2d",
)
if tuple(inspect.signature(pnb.flex_simulate_nb.py_func).parameters) != _FLEX_SIMULATE_PARAMS:
    # A vectorbt whose simulation takes other arguments would be fed the wrong ones silently.
    raise ImportError(f"vectorbt {vectorbt.__version__}: flex_simulate_nb's parameters changed; see _simulate")


@njit
def _order_func_nb(c, cursor, open_, close, signal, size_type, size, commission, slippage, next_open):
    """Issues bar `c.i`'s next order, scanning the runs from `cursor[0]`; column -1 ends the bar.

    vectorbt's flexible simulation calls this once per bar plus once per
    order; all runs form one group without cash sharing, so each keeps its own
    cash and position as if run alone. The per-call context is what a
    simulation spends its time on: with one call per bar and run (vectorbt's
    plain order function) 2,600 daily bars cost about 1.1 ms per run, against
    about 0.3 ms here.
    """
    if c.call_idx == 0:
        cursor[0] = c.from_col
    i = c.i
    for col in range(cursor[0], c.to_col):
        if next_open[col]:
            # The signal of bar i-1 fills at bar i's open.
            if i == 0:
                continue
            now = signal[i - 1, col]
            before = signal[i - 2, col] if i >= 2 else 0.0
            price = open_[i, col]
        else:
            now = signal[i, col]
            before = signal[i - 1, col] if i >= 1 else 0.0
            price = close[i, col]
        qty = order_quantity(
            now,
            before,
            c.last_position[col],
            c.last_cash[col],
            price,
            size_type[col],
            size[col],
            commission[col],
            slippage[col],
        )
        if qty == 0.0:
            continue
        cursor[0] = col + 1
        # Sizing fits buys to the cash, so a rejection means a short that cannot be bought back: fail loudly.
        return col, pnb.order_nb(
            size=qty, price=price, fees=commission[col], slippage=slippage[col], allow_partial=False, raise_reject=True
        )
    return -1, pnb.order_nothing_nb()


def _column(values: np.ndarray, k: int) -> np.ndarray:
    """One price column repeated for `k` parameter sets, as the order function indexes it."""
    return np.ascontiguousarray(np.repeat(values[:, None], k, axis=1))


def _trades(records: np.ndarray, index: pd.DatetimeIndex, last_close: float, runs: int) -> list[TradeList]:
    """Each run's trades from vectorbt's position records of all runs, in entry order.

    Kept as columns (`TradeList`): converting each record to a `Trade` with
    boxed dates cost more than the simulation of a million bars.
    """
    records = np.sort(records, order=["col", "entry_idx"])
    is_open = records["status"] == TradeStatus.Open
    exits = index[records["exit_idx"]]
    columns = TradeColumns(
        entry_date=index[records["entry_idx"]],
        exit_date=exits.where(~is_open, pd.NaT),
        long=records["direction"] == TradeDirection.Long,
        closed=~is_open,
        entry_price=records["entry_price"].astype(np.float64),
        # vectorbt blends partial exits into an open position's exit price; ours is the last close.
        exit_price=np.where(is_open, last_close, records["exit_price"]).astype(np.float64),
        size=records["size"].astype(np.float64),
        pnl=records["pnl"].astype(np.float64),
        return_pct=records["return"].astype(np.float64),
    )
    bounds = np.searchsorted(records["col"], np.arange(runs + 1))
    return [TradeList(_rows(columns, bounds[j], bounds[j + 1])) for j in range(runs)]


def _rows(columns: TradeColumns, start: int, stop: int) -> TradeColumns:
    """Rows start..stop-1 of `columns` (views of its arrays)."""
    return TradeColumns(**{f.name: getattr(columns, f.name)[start:stop] for f in dataclasses.fields(TradeColumns)})


def _order_bars(signal: np.ndarray, fills_next_open: np.ndarray) -> np.ndarray:
    """Bars at which some run may place an order: its effective signal changed (bars x runs in, bars out).

    The order function is called only on these bars. Elsewhere it would
    return no order: `order_quantity` trades when the signal's side differs
    from the position's side (or, sized by signal weight, when the signal
    moved), and after every bar the position is on the signal's side unless
    the account can no longer open anything while flat. Skipping the other
    bars skips vectorbt's per-call context, which was nearly all of a
    million-bar simulation (0.8 s of CPU for 13,600 trades); vectorbt still
    updates prices and values on every bar. The unit tests compare the
    result with the order function called on every bar.
    """
    before = np.empty_like(signal)
    before[0] = 0.0
    before[1:] = signal[:-1]
    changed = signal != before  # close fills: bar i acts on signal[i] against signal[i-1]
    at_close = changed[:, ~fills_next_open].any(axis=1)
    # Next-open fills: bar i acts on signal[i-1] against signal[i-2], one bar later.
    at_open = np.zeros(len(signal), dtype=np.bool_)
    at_open[1:] = changed[:-1, fills_next_open].any(axis=1)
    return at_close | at_open


@dataclass
class _Simulation:
    """What the adapter keeps of one simulation, one column per run."""

    equity: np.ndarray  # bars x runs, cash plus position at the close
    position: np.ndarray  # bars x runs, signed shares held after each bar
    orders: np.ndarray  # vectorbt order records
    positions: np.ndarray  # vectorbt position records (a trade per position)


def _simulate(bars: pd.DataFrame, signals: Sequence[np.ndarray], specs: Sequence[ExecutionSpec]) -> _Simulation:
    """One vectorbt simulation with a column per (signal, spec) pair.

    Calls vectorbt's Numba simulation and record builders directly, as
    `Portfolio.from_order_func` and `Portfolio.value/assets/positions` do
    without a group: building the Portfolio object (deep copies of its
    configs, pandas wrapping) cost more than simulating 2,600 daily bars.
    """
    k = len(specs)
    shape = (len(bars), k)
    close = _column(bars["close"].to_numpy(dtype=np.float64), k)
    signal = np.column_stack([effective_signal(s, spec.allow_short) for s, spec in zip(signals, specs, strict=True)])
    order_args = (
        _column(bars["open"].to_numpy(dtype=np.float64), k),
        close,
        np.ascontiguousarray(signal),
        np.array([SIZE_TYPE_CODES[s.size_type] for s in specs], dtype=np.int64),
        np.array([s.size for s in specs], dtype=np.float64),
        np.array([s.commission for s in specs], dtype=np.float64),
        np.array([s.slippage for s in specs], dtype=np.float64),
        np.array([s.fill_price == "next_open" for s in specs], dtype=np.bool_),
    )
    init_cash = np.array([s.initial_capital for s in specs], dtype=np.float64)
    fills_next_open = order_args[-1]
    # Positional arguments only, in _FLEX_SIMULATE_PARAMS order: with keywords Numba
    # resolves the call's types in Python on every call (0.7 ms, a third of a one-run simulation).
    no_pre, no_post = pnb.no_pre_func_nb, pnb.no_post_func_nb
    orders, _ = pnb.flex_simulate_nb(
        shape,
        np.array([k], dtype=np.int64),  # one group without cash sharing: each run keeps its own cash
        init_cash,
        False,  # cash_sharing
        _order_bars(signal, fills_next_open)[:, None],  # segment_mask: only bars that may trade
        False,  # call_pre_segment
        False,  # call_post_segment
        no_pre,
        (),
        no_post,
        (),  # simulation
        no_pre,
        (),
        no_post,
        (),  # group
        no_pre,
        (),
        no_post,
        (),  # segment
        _order_func_nb,
        (np.zeros(1, dtype=np.int64), *order_args),
        no_post,
        (),  # after each order
        close,
        True,  # ffill_val_price
        False,  # update_value
        False,  # fill_pos_record: trades are built from the order records below
        shape[0] * k,  # max_orders: the order function issues at most one per bar and run
        0,  # max_logs
        False,  # init_temp_records
        True,  # flex_2d
    )
    col_map = records_nb.col_map_nb(orders["col"], k)
    position = pnb.assets_nb(pnb.asset_flow_nb(shape, orders, col_map, Direction.Both))
    cash = pnb.cash_nb(pnb.cash_flow_nb(shape, orders, col_map, False), init_cash)
    held_close = np.where(position == 0.0, 0.0, close)  # as Portfolio.asset_value: flat is worth 0, whatever the price
    equity = pnb.value_nb(cash, pnb.asset_value_nb(held_close, position))
    exit_trades = pnb.get_exit_trades_nb(orders, close, col_map)
    positions = pnb.get_positions_nb(exit_trades, records_nb.col_map_nb(exit_trades["col"], k))
    return _Simulation(equity=equity, position=position, orders=orders, positions=positions)


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
        for j, (signal, spec) in enumerate(zip(signals, specs, strict=True)):
            check_signal(signal, len(bars), f"signals[{j}]")
            check_spec(spec, f"specs[{j}]")

        k = len(specs)
        close = bars["close"].to_numpy(dtype=np.float64)
        try:
            sim = _simulate(bars, signals, specs)
        except RejectedOrderError as exc:
            # Sizing keeps every buy within the cash, except buying back a short whose loss exceeds it.
            raise EngineError(f"vectorbt rejected an order ({exc}): {SHORT_SQUEEZE}") from exc
        equity, position, orders, positions = sim.equity, sim.position, sim.orders, sim.positions
        notional = np.bincount(orders["col"], weights=orders["size"] * orders["price"], minlength=k)
        trades = _trades(positions, bars.index, float(close[-1]), k)
        # Fortran order: each run's curve is one contiguous column, so the Series below are views, not copies.
        equity, position = np.asfortranarray(equity), np.asfortranarray(position)
        return [
            EngineResult(
                equity=pd.Series(equity[:, j], index=bars.index, name="equity", copy=False),
                position=pd.Series(position[:, j], index=bars.index, name="position", copy=False),
                trades=trades[j],
                traded_notional=float(notional[j]),
            )
            for j in range(k)
        ]
