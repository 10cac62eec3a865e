"""backtrader adapter: a real Cerebro run whose Strategy trades the precomputed signal.

backtrader's broker fills the orders (cheat-on-close for close fills,
cheat-on-open for next-open fills), applies slippage and commission, and keeps
cash and position; the Strategy only sizes orders with the shared rule in
`_sizing`, marks cash and position each bar, and logs the filled orders that
become the trade list.
"""

from __future__ import annotations

import backtrader as bt
import numpy as np
import pandas as pd

from services.adapters.engines._inputs import check_bars, check_signal, check_spec
from services.adapters.engines._roundtrips import Fill, round_trips
from services.adapters.engines._sizing import SIZE_TYPE_CODES, effective_signal, order_quantity
from services.adapters.engines._warm_up import SPECS as WARM_UP_SPECS
from services.adapters.engines._warm_up import tiny_inputs
from services.adapters.engines.base import SHORT_SQUEEZE, EngineError
from services.domain.execution import EngineResult, ExecutionSpec


class _NotionalCommission(bt.CommInfoBase):
    """Stock-like commission of `commission` times |shares * price|, fractional shares allowed."""

    params = (("stocklike", True), ("commtype", bt.CommInfoBase.COMM_PERC), ("percabs", True))

    def _getcommission(self, size, price, pseudoexec):
        return abs(size) * price * self.p.commission


class _SignalStrategy(bt.Strategy):
    """Trades `signal` (already effective) with `spec`; marks cash and position at every bar."""

    params = (("signal", None), ("spec", None), ("n_bars", 0))

    def __init__(self):
        self.size_type = SIZE_TYPE_CODES[self.p.spec.size_type]
        self.on_close = self.p.spec.fill_price == "close"
        # One extra slot: with close fills the padding bar reports the last bar's state.
        self.cash_marks = np.full(self.p.n_bars + 1, np.nan)
        self.position_marks = np.full(self.p.n_bars + 1, np.nan)
        self.bar_of: dict[float, int] = {}  # backtrader's date number -> bar index, to date fills
        self.fills: list[tuple[float, float, float, float]] = []
        self.failures: list[str] = []

    def _trade(self, bar: int, price: float) -> None:
        """Submits the order the signal of `bar` calls for, at market `price`."""
        spec = self.p.spec
        signal = self.p.signal
        qty = order_quantity(
            signal[bar],
            signal[bar - 1] if bar >= 1 else 0.0,
            self.position.size,
            self.broker.getcash(),
            price,
            self.size_type,
            spec.size,
            spec.commission,
            spec.slippage,
        )
        if qty > 0.0:
            self.buy(size=qty)
        elif qty < 0.0:
            self.sell(size=-qty)

    def next_open(self):
        # Cheat-on-open: runs before the broker fills at this bar's open, so
        # orders placed here on the previous bar's signal fill at this open.
        bar = len(self.data) - 1
        if bar >= 1:
            self._trade(bar - 1, self.data.open[0])

    nextstart_open = next_open
    prenext_open = next_open

    def next(self):
        bar = len(self.data) - 1
        self.bar_of[self.data.datetime[0]] = bar
        self.cash_marks[bar] = self.broker.getcash()
        self.position_marks[bar] = self.position.size
        # Cheat-on-close: the order fills at this close when the broker runs on the next bar.
        if self.on_close and bar < self.p.n_bars:
            self._trade(bar, self.data.close[0])

    def notify_order(self, order):
        if order.status == order.Completed:
            ex = order.executed
            self.fills.append((ex.dt, ex.size, ex.price, ex.comm))
            if self.broker.getcash() < 0.0:
                # backtrader lets this through; vectorbt cannot, so both fail alike.
                self.failures.append(SHORT_SQUEEZE)
        elif order.status in (order.Canceled, order.Margin, order.Rejected, order.Expired):
            self.failures.append(f"{order.getstatusname()} {order.size:+.6g} shares")


def _padded(bars: pd.DataFrame) -> pd.DataFrame:
    """`bars` plus a copy of the last bar one step later, on which the broker fills the last close order."""
    step = bars.index[-1] - bars.index[-2] if len(bars) > 1 else pd.Timedelta(days=1)
    pad = bars.iloc[[-1]].copy()
    pad.index = pd.DatetimeIndex([bars.index[-1] + step])
    return pd.concat([bars, pad])


class BacktraderEngine:
    """Runs backtests on backtrader."""

    name = "backtrader"

    def warm_up(self) -> None:
        """Runs eight bars once per size type and fill price, so imports and first-call costs are paid."""
        bars, signal = tiny_inputs()
        for spec in WARM_UP_SPECS:
            self.run(bars, signal, spec)

    def run(self, bars: pd.DataFrame, signal: np.ndarray, spec: ExecutionSpec) -> EngineResult:
        """Runs one backtest.

        bars: OHLCV frame on a sorted, unique, tz-naive DatetimeIndex.
        signal: target exposure in [-1, 1] per bar.
        spec: how orders are sized and filled.
        """
        check_bars(bars)
        check_signal(signal, len(bars))
        check_spec(spec)
        n = len(bars)
        on_close = spec.fill_price == "close"
        frame = bars[["open", "high", "low", "close", "volume"]].astype(np.float64)
        feed_frame = _padded(frame) if on_close else frame

        cerebro = bt.Cerebro(stdstats=False, cheat_on_open=not on_close, maxcpus=1)
        cerebro.adddata(bt.feeds.PandasData(dataname=feed_frame, openinterest=None))
        broker = cerebro.broker
        broker.setcash(spec.initial_capital)
        broker.addcommissioninfo(_NotionalCommission(commission=spec.commission))
        # slip_out lets slippage push a fill outside the bar's high-low range, as vectorbt does.
        broker.set_slippage_perc(spec.slippage, slip_open=True, slip_limit=True, slip_match=True, slip_out=True)
        broker.set_coc(on_close)
        broker.set_coo(not on_close)
        # Sizing already fits the cash; execution still checks it.
        broker.set_checksubmit(False)
        cerebro.addstrategy(_SignalStrategy, signal=effective_signal(signal, spec.allow_short), spec=spec, n_bars=n)
        strategy = cerebro.run()[0]
        if strategy.failures:
            raise EngineError(f"backtrader run failed: {'; '.join(dict.fromkeys(strategy.failures))}")
        return self._result(bars, strategy, on_close)

    @staticmethod
    def _result(bars: pd.DataFrame, strategy: _SignalStrategy, on_close: bool) -> EngineResult:
        """Equity, position and trades from the strategy's marks and fill log."""
        n = len(bars)
        close = bars["close"].to_numpy(dtype=np.float64)
        # Close fills of bar t happen as the broker opens bar t+1, so the state
        # marked on bar t+1 is the state at bar t's close.
        offset = 1 if on_close else 0
        cash = strategy.cash_marks[offset : n + offset]
        position = strategy.position_marks[offset : n + offset]

        fills = [Fill(strategy.bar_of[dt], size, price, comm) for dt, size, price, comm in strategy.fills]
        return EngineResult(
            equity=pd.Series(cash + position * close, index=bars.index, name="equity"),
            position=pd.Series(position, index=bars.index, name="position"),
            trades=round_trips(fills, bars.index, float(close[-1])),
            traded_notional=float(sum(abs(f.qty * f.price) for f in fills)),
        )
