"""vectorbt adapter: one vectorbt simulation per run, or per batch of runs.

vectorbt executes the orders, charges fees and slippage, keeps cash and
position, and builds the trade (position) records; a Numba loop only decides
each order's size with the shared rule in `_sizing`, on the bars where a
signal changed, and hands the order to vectorbt's `process_order_nb`. Many
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
from vectorbt.portfolio.enums import (
    OrderSide,
    ProcessOrderState,
    RejectedOrderError,
    TradeDirection,
    TradeStatus,
    log_dt,
    order_dt,
)
from vectorbt.records import nb as records_nb
from vectorbt.utils.math_ import add_nb

from services.adapters.engines._inputs import check_bars, check_signal, check_spec
from services.adapters.engines._sizing import SIZE_TYPE_CODES, order_quantity
from services.adapters.engines._warm_up import SPECS as WARM_UP_SPECS
from services.adapters.engines._warm_up import tiny_inputs
from services.adapters.engines.base import SHORT_SQUEEZE, EngineError
from services.domain.errors import ValidationError
from services.domain.execution import EngineResult, ExecutionSpec, TradeColumns, TradeList

# process_order_nb's parameters and state as `_simulate_orders_nb` passes them.
_PROCESS_ORDER_PARAMS = ("i", "col", "group", "state", "update_value", "order", "order_records", "log_records")
_STATE_FIELDS = ("cash", "position", "debt", "free_cash", "val_price", "value", "oidx", "lidx")
if (
    tuple(inspect.signature(pnb.process_order_nb.py_func).parameters) != _PROCESS_ORDER_PARAMS
    or ProcessOrderState._fields != _STATE_FIELDS
):
    # A vectorbt whose order processing takes other arguments would be fed the wrong ones silently.
    raise ImportError(f"vectorbt {vectorbt.__version__}: process_order_nb changed; see _simulate_orders_nb")


@njit
def _simulate_orders_nb(
    bars, price, now, before, val_price, size_type, size, commission, slippage, init_cash, max_orders
):
    """Executes the orders of the rows where some run may trade with vectorbt; returns its order records.

    Row j is bar `bars[j]`; per row and run, `now` and `before` are the signal
    acted on and the one before it, `price` the fill price before slippage
    (the fill rule, close or next open, already applied) and `val_price` the
    close of the bar before (NaN at the first bar), as vectorbt values a
    position before a bar's orders. Each run keeps its own cash and position,
    as if run alone; `order_quantity` sizes an order and vectorbt's
    `process_order_nb` executes it (fees, slippage, cash, debt, the record),
    exactly as its flexible simulation does for each order, without the
    per-call context that simulation builds, which cost 5 us a row.
    """
    n, k = now.shape
    order_records = np.empty(max_orders, dtype=order_dt)
    log_records = np.empty(0, dtype=log_dt)
    cash = init_cash.copy()
    free_cash = init_cash.copy()
    position = np.zeros(k)
    debt = np.zeros(k)
    oidx = 0
    lidx = 0
    for j in range(n):
        for col in range(k):
            qty = order_quantity(
                now[j, col],
                before[j, col],
                position[col],
                cash[col],
                price[j, col],
                size_type[col],
                size[col],
                commission[col],
                slippage[col],
            )
            if qty == 0.0:
                continue
            value = cash[col] if position[col] == 0.0 else cash[col] + position[col] * val_price[j, col]
            state = ProcessOrderState(
                cash[col], position[col], debt[col], free_cash[col], val_price[j, col], value, oidx, lidx
            )
            # Sizing fits buys to the cash, so a rejection means a short that cannot be bought back: fail loudly.
            order = pnb.order_nb(
                size=qty,
                price=price[j, col],
                fees=commission[col],
                slippage=slippage[col],
                allow_partial=False,
                raise_reject=True,
            )
            _, new = pnb.process_order_nb(bars[j], col, 0, state, False, order, order_records, log_records)
            cash[col], position[col], debt[col], free_cash[col] = new.cash, new.position, new.debt, new.free_cash
            oidx, lidx = new.oidx, new.lidx
    return order_records[:oidx]


@njit(cache=True, nogil=True)
def _holdings_nb(n, orders, col_map, close, init_cash):
    """(position, equity) of each run at each bar from its order records: two arrays of runs x bars.

    What vectorbt's `assets_nb(asset_flow_nb(...))` and `value_nb(cash_nb(cash_flow_nb(...)),
    asset_value_nb(close, position))` return (flat positions valued at 0.0, as
    `Portfolio.asset_value`), with the same arithmetic in the same order
    (`add_nb`, which snaps near-zero sums to 0.0, on every bar), in one pass
    over the bars instead of six passes that each wrote a bars x runs array.
    Orders of a run must come in bar order, as `_simulate_orders_nb` records them.
    """
    col_idxs, col_lens = col_map
    k = init_cash.shape[0]
    position = np.empty((k, n), dtype=np.float64)
    equity = np.empty((k, n), dtype=np.float64)
    first = 0
    for col in range(k):
        count = col_lens[col]
        at = np.empty(count + 1, dtype=np.int64)  # the bar of each order, then n
        for c in range(count):
            at[c] = orders[col_idxs[first + c]]["idx"]
        at[count] = n
        held = 0.0
        cash = init_cash[col]
        c = 0
        i = 0
        while i < n:
            if i < at[c]:  # bars without an order: flows of 0.0
                # add_nb(x, 0.0) is idempotent (0.0 when x is within its tolerance of zero, else
                # x + 0.0), so once is what vectorbt's once per bar comes to; the bars then share it.
                held = add_nb(held, 0.0)
                cash = add_nb(cash, 0.0)
                if held == 0.0:
                    flat = cash + 0.0 * held
                    while i < at[c]:
                        position[col, i] = held
                        equity[col, i] = flat
                        i += 1
                else:
                    while i < at[c]:
                        position[col, i] = held
                        equity[col, i] = cash + close[i] * held
                        i += 1
            if i == n:
                break
            asset_flow = 0.0
            cash_flow = 0.0
            while c < count and at[c] == i:
                record = orders[col_idxs[first + c]]
                size = record["size"]
                if record["side"] == OrderSide.Sell:
                    size *= -1
                asset_flow = add_nb(asset_flow, size)
                cash_flow = add_nb(cash_flow, -size * record["price"] - record["fees"])
                c += 1
            held = add_nb(held, asset_flow)
            cash = add_nb(cash, cash_flow)
            position[col, i] = held
            equity[col, i] = cash + (0.0 if held == 0.0 else close[i]) * held
            i += 1
        if c != count:
            raise ValueError("order records of a run must come in bar order")
        first += count
    return position, equity


def _column(values: np.ndarray, k: int) -> np.ndarray:
    """One price column repeated for `k` parameter sets, one column per run (for one run, a view: no copy)."""
    # np.repeat copied a million closes in 1.8 ms for a lone run; a bars x 1 view of them is already contiguous.
    return np.ascontiguousarray(np.broadcast_to(values[:, None], (len(values), k)))


@njit(cache=True, nogil=True)
def _effective_nb(raw, low):
    """`effective_signal` of each column of `raw` (bars x runs), `low` the floor of each run: one pass, one array.

    NaN is 0.0, a value is clipped to [low, 1] (infinities too), and + 0.0 turns -0.0 into 0.0,
    the operations of `clip_exposure` then `+= 0.0`, which took 1.7 ms and three passes a run
    on a million bars, and their stacking a copy more.
    """
    n, k = raw.shape
    out = np.empty((n, k), dtype=np.float64)
    if k == 1:  # one run: a flat loop, which compiles to vector code (the general one's inner loop of one does not)
        floor = low[0]
        for i in range(n):
            value = raw[i, 0]
            if np.isnan(value):
                value = 0.0
            out[i, 0] = min(max(value, floor), 1.0) + 0.0
        return out
    for i in range(n):  # row by row: the runs of a bar lie side by side
        for col in range(k):
            value = raw[i, col]
            if np.isnan(value):
                value = 0.0
            out[i, col] = min(max(value, low[col]), 1.0) + 0.0
    return out


def _effective_signals(signals: Sequence[np.ndarray], specs: Sequence[ExecutionSpec]) -> np.ndarray:
    """Bars x runs: each run's `effective_signal`, one column per run."""
    raw = [np.asarray(s, dtype=np.float64) for s in signals]
    stacked = raw[0][:, None] if len(raw) == 1 else np.column_stack(raw)
    low = np.array([-1.0 if spec.allow_short else 0.0 for spec in specs], dtype=np.float64)
    return _effective_nb(stacked, low)


@njit(cache=True, nogil=True)
def _order_bars_nb(signal, fills_next_open):
    """`_order_bars`, compiled: one pass over the bars instead of five numpy passes and their temporaries."""
    n, k = signal.shape
    out = np.zeros(n, dtype=np.bool_)
    if k == 1:  # one run: a flat loop, several times faster than the general one's inner loop of one
        # A close fill acts at bar i on a change at i; a next-open fill one bar later.
        shift = 1 if fills_next_open[0] else 0
        before = 0.0
        for i in range(n - shift):
            now = signal[i, 0]
            if now != before:
                out[i + shift] = True
            before = now
        return out
    previous = np.zeros(k)
    for i in range(n):  # row by row: the runs of a bar lie side by side
        for col in range(k):
            now = signal[i, col]
            if now != previous[col]:
                at = i + 1 if fills_next_open[col] else i
                if at < n:
                    out[at] = True
            previous[col] = now
    return out


def _trades(records: np.ndarray, index: pd.DatetimeIndex, last_close: float, runs: int) -> list[TradeList]:
    """Each run's trades from vectorbt's position records of all runs, in entry order.

    Kept as columns (`TradeList`): converting each record to a `Trade` with
    boxed dates cost more than the simulation of a million bars.
    """
    records = _by_column_and_entry(records)
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


def _by_column_and_entry(records: np.ndarray) -> np.ndarray:
    """`np.sort(records, order=["col", "entry_idx"])`, by an index sort of the two keys.

    The structured sort compares whole records field by field: 22 ms for the
    13,600 trades of a million-bar crossover, against 2 ms here. A run's
    positions never share an entry bar, so the two keys order them fully;
    should two ever tie, the structured sort decides, as before.
    """
    column, entry = records["col"], records["entry_idx"]
    step = np.diff(column)
    if (step >= 0).all() and ((step > 0) | (np.diff(entry) > 0)).all():
        # Already in that order, every key pair distinct (vectorbt builds a run's positions in
        # entry order, run by run): the sort would return the same records in 2 ms.
        return records
    ordered = records[np.lexsort((entry, column))]
    ties = (np.diff(ordered["col"]) == 0) & (np.diff(ordered["entry_idx"]) == 0)
    return np.sort(records, order=["col", "entry_idx"]) if ties.any() else ordered


def _rows(columns: TradeColumns, start: int, stop: int) -> TradeColumns:
    """Rows start..stop-1 of `columns` (views of its arrays)."""
    return TradeColumns(**{f.name: getattr(columns, f.name)[start:stop] for f in dataclasses.fields(TradeColumns)})


def _order_bars(signal: np.ndarray, fills_next_open: np.ndarray) -> np.ndarray:
    """Bars at which some run may place an order: its effective signal changed (bars x runs in, bars out).

    Orders are sized only on these bars. Elsewhere `order_quantity` would
    return none: it trades when the signal's side differs from the
    position's side (or, sized by signal weight, when the signal moved), and
    after every bar the position is on the signal's side unless the account
    can no longer open anything while flat. vectorbt's simulation called an
    order function with a fresh context on every bar, which was nearly all
    of a million-bar run (0.8 s of CPU for 13,600 trades). The unit tests
    compare the result with orders sized on every bar, and the compiled pass
    with its numpy form: bar i is marked when a close-filled run's signal
    changed at i (signal[i] != signal[i-1], 0.0 before the first bar), or a
    next-open-filled run's at i - 1.
    """
    return _order_bars_nb(np.ascontiguousarray(signal), np.ascontiguousarray(fills_next_open, dtype=np.bool_))


def _lagged(signal: np.ndarray, rows: np.ndarray, lag: int) -> np.ndarray:
    """signal[rows - lag], 0.0 where that is before the first bar (only the rows, not a shifted copy of every bar)."""
    at = rows - lag
    out = signal[np.maximum(at, 0)]
    out[at < 0] = 0.0
    return out


def _order_inputs(
    bars: pd.DataFrame, signal: np.ndarray, next_open: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(now, before, price) at `rows` (bar numbers), one column per run.

    A close fill at bar i acts on signal[i] against signal[i-1] at close[i];
    a next-open fill acts on signal[i-1] against signal[i-2] at open[i], and
    never at bar 0 (now = before = 0 there: no order). Signals before the
    first bar are 0.
    """
    k = signal.shape[1]
    previous, second = _lagged(signal, rows, 1), _lagged(signal, rows, 2)
    now = np.where(next_open, previous, signal[rows])
    before = np.where(next_open, second, previous)
    open_, close = (bars[name].to_numpy(dtype=np.float64)[rows] for name in ("open", "close"))
    price = np.where(next_open, open_[:, None], close[:, None])
    return (
        np.ascontiguousarray(now),
        np.ascontiguousarray(before),
        np.ascontiguousarray(np.broadcast_to(price, (len(rows), k))),
    )


@dataclass
class _Simulation:
    """What the adapter keeps of one simulation, one column per run."""

    equity: np.ndarray  # bars x runs, cash plus position at the close
    position: np.ndarray  # bars x runs, signed shares held after each bar
    orders: np.ndarray  # vectorbt order records
    positions: np.ndarray  # vectorbt position records (a trade per position)


def _simulate(bars: pd.DataFrame, signals: Sequence[np.ndarray], specs: Sequence[ExecutionSpec]) -> _Simulation:
    """One vectorbt simulation with a column per (signal, spec) pair.

    Calls vectorbt's Numba order execution and record builders directly, as
    `Portfolio.from_order_func` and `Portfolio.value/assets/positions` do
    without a group: building the Portfolio object (deep copies of its
    configs, pandas wrapping) cost more than simulating 2,600 daily bars.
    """
    k = len(specs)
    close = _column(bars["close"].to_numpy(dtype=np.float64), k)
    signal = _effective_signals(signals, specs)
    next_open = np.array([s.fill_price == "next_open" for s in specs], dtype=np.bool_)
    # Orders are executed only on the bars where some run may trade; elsewhere none is possible
    # (see _order_bars). Cash, position and value are computed over every bar from the orders.
    rows = np.flatnonzero(_order_bars(signal, next_open))
    now, before, price = _order_inputs(bars, signal, next_open, rows)
    init_cash = np.array([s.initial_capital for s in specs], dtype=np.float64)
    order_args = (
        price,
        now,
        before,
        np.array([SIZE_TYPE_CODES[s.size_type] for s in specs], dtype=np.int64),
        np.array([s.size for s in specs], dtype=np.float64),
        np.array([s.commission for s in specs], dtype=np.float64),
        np.array([s.slippage for s in specs], dtype=np.float64),
    )
    val_price = close[rows - 1]
    val_price[rows == 0] = np.nan
    orders = _simulate_orders_nb(rows, *order_args[:3], val_price, *order_args[3:], init_cash, len(rows) * k)
    col_map = records_nb.col_map_nb(orders["col"], k)
    holdings = _holdings_nb(len(bars), orders, col_map, np.ascontiguousarray(close[:, 0]), init_cash)
    # Runs x bars, transposed: bars x runs with each run's curve one contiguous column.
    position, equity = (a.T for a in holdings)
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
        check_bars(bars)
        check_signal(signal, len(bars))
        check_spec(spec)
        return self._run_checked(bars, [signal], [spec])[0]

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
        return self._run_checked(bars, signals, specs)

    def _run_checked(
        self, bars: pd.DataFrame, signals: Sequence[np.ndarray], specs: Sequence[ExecutionSpec]
    ) -> list[EngineResult]:
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
