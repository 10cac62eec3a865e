"""Small cases worked out by hand, run against each engine by test_vectorbt and test_backtrader.

All use the six `hand_bars`: opens 10, 11, ..., 15 and closes 10.5, 11.5, ...,
15.5 on 2024-01-01..06; capital 1000, commission 1% and slippage 1%, so a buy
at a close of 11.5 fills at 11.615 and a sell at 11.5 fills at 11.385.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pytest import approx

from services.adapters.engines import EngineError
from services.domain.errors import ValidationError
from services.domain.execution import ExecutionSpec

CASH, FEE, SLIP = 1000.0, 0.01, 0.01
DAY = pd.date_range("2024-01-01", periods=6, freq="D")


def spec(**overrides) -> ExecutionSpec:
    """The hand cases' spec with `overrides` applied."""
    return ExecutionSpec(**{"initial_capital": CASH, "commission": FEE, "slippage": SLIP, **overrides})


def buy(price: float) -> float:
    return price * (1 + SLIP)


def sell(price: float) -> float:
    return price * (1 - SLIP)


class HandChecks:
    """Mixed into a Test class that provides an `engine` fixture."""

    def test_percent_round_trip_fills_at_close(self, engine, hand_bars):
        r = engine.run(hand_bars, np.array([0, 1, 1, 0, 0, 0.0]), spec())
        entry, exit_ = buy(11.5), sell(13.5)  # 11.615, 13.365
        qty = CASH / (entry * (1 + FEE))  # 85.2431... shares: all the cash, fee included
        cash_in = CASH - qty * entry * (1 + FEE)  # ~0
        cash_out = cash_in + qty * exit_ * (1 - FEE)
        assert r.position.tolist() == approx([0, qty, qty, 0, 0, 0], rel=1e-9)
        assert r.equity.tolist() == approx(
            [CASH, cash_in + qty * 11.5, cash_in + qty * 12.5, cash_out, cash_out, cash_out], rel=1e-9
        )
        (trade,) = r.trades
        pnl = qty * (exit_ - entry) - FEE * qty * entry - FEE * qty * exit_
        assert (trade.entry_date, trade.exit_date, trade.side, trade.status) == (DAY[1], DAY[3], "long", "closed")
        assert (trade.entry_price, trade.exit_price) == (approx(11.615), approx(13.365))
        assert trade.size == approx(qty, rel=1e-9)
        assert trade.pnl == approx(pnl, rel=1e-9)
        assert trade.pnl == approx(cash_out - CASH, rel=1e-9)
        assert trade.return_pct == approx(pnl / (qty * entry), rel=1e-9)
        assert r.traded_notional == approx(qty * (entry + exit_), rel=1e-9)

    def test_percent_round_trip_fills_at_next_open(self, engine, hand_bars):
        r = engine.run(hand_bars, np.array([0, 1, 1, 0, 0, 0.0]), spec(fill_price="next_open"))
        entry, exit_ = buy(12.0), sell(14.0)  # bar 2 and bar 4 opens
        qty = CASH / (entry * (1 + FEE))
        cash_in = CASH - qty * entry * (1 + FEE)
        cash_out = cash_in + qty * exit_ * (1 - FEE)
        assert r.position.tolist() == approx([0, 0, qty, qty, 0, 0], rel=1e-9)
        assert r.equity.tolist() == approx(
            [CASH, CASH, cash_in + qty * 12.5, cash_in + qty * 13.5, cash_out, cash_out], rel=1e-9
        )
        (trade,) = r.trades
        assert (trade.entry_date, trade.exit_date) == (DAY[2], DAY[4])
        assert (trade.entry_price, trade.exit_price) == (approx(12.12), approx(13.86))
        assert trade.pnl == approx(cash_out - CASH, rel=1e-9)

    def test_fixed_shares_short_then_long(self, engine, hand_bars):
        r = engine.run(hand_bars, np.array([0, -1, -1, 1, 1, 0.0]), spec(size_type="shares", size=10, allow_short=True))
        # bar 1: short 10 at 11.385 -> cash 1000 + 113.85 - 1.1385 = 1112.7115
        # bar 3: buy 20 at 13.635 -> cash 1112.7115 - 272.7 - 2.727 = 837.2845
        # bar 5: sell 10 at 15.345 -> cash 837.2845 + 153.45 - 1.5345 = 989.2
        assert r.position.tolist() == approx([0, -10, -10, 10, 10, 0])
        assert r.equity.tolist() == approx([1000, 997.7115, 987.7115, 972.2845, 982.2845, 989.2], rel=1e-12)
        short, long_ = r.trades
        assert (short.side, short.entry_date, short.exit_date, short.size) == ("short", DAY[1], DAY[3], approx(10))
        assert (short.entry_price, short.exit_price) == (approx(11.385), approx(13.635))
        assert short.pnl == approx(-22.5 - 1.1385 - 1.3635, rel=1e-12)  # -25.002
        assert short.return_pct == approx(-25.002 / 113.85, rel=1e-12)
        assert (long_.side, long_.entry_date, long_.exit_date, long_.size) == ("long", DAY[3], DAY[5], approx(10))
        assert long_.pnl == approx(17.1 - 1.3635 - 1.5345, rel=1e-12)  # 14.202
        assert r.traded_notional == approx(113.85 + 272.7 + 153.45, rel=1e-12)

    def test_percent_flip_closes_then_opens_on_what_is_left(self, engine, hand_bars):
        r = engine.run(hand_bars, np.array([0, 1, -1, -1, 0, 0.0]), spec(allow_short=True))
        q_long = CASH / (buy(11.5) * (1 + FEE))
        cash = CASH - q_long * buy(11.5) * (1 + FEE) + q_long * sell(12.5) * (1 - FEE)  # long closed at bar 2
        q_short = cash / (sell(12.5) * (1 + FEE))
        assert r.position.tolist() == approx([0, q_long, -q_short, -q_short, 0, 0], rel=1e-9)
        long_, short = r.trades
        assert (long_.exit_date, short.entry_date, short.exit_date) == (DAY[2], DAY[2], DAY[4])
        long_pnl = q_long * (sell(12.5) - buy(11.5)) - FEE * q_long * (buy(11.5) + sell(12.5))
        assert long_.pnl == approx(long_pnl, rel=1e-9)
        short_pnl = q_short * (sell(12.5) - buy(14.5)) - FEE * q_short * (sell(12.5) + buy(14.5))
        assert short.pnl == approx(short_pnl, rel=1e-9)
        assert r.equity.iloc[-1] == approx(CASH + long_.pnl + short.pnl, rel=1e-9)

    def test_long_only_reads_negative_signal_as_flat(self, engine, hand_bars):
        r = engine.run(hand_bars, np.array([0, 1, -1, -1, 1, 0.0]), spec())
        assert [t.side for t in r.trades] == ["long", "long"]
        assert [(t.entry_date, t.exit_date) for t in r.trades] == [(DAY[1], DAY[2]), (DAY[4], DAY[5])]
        assert (r.position >= 0).all() and (r.position.iloc[[0, 2, 3, 5]] == 0).all()

    def test_signal_weight_rebalances_on_change_into_one_trade(self, engine, hand_bars):
        r = engine.run(hand_bars, np.array([0, 0.5, 1, 1, 0.25, 0]), spec(size_type="signal_weight"))
        q1 = 0.5 * CASH / (buy(11.5) * (1 + FEE))  # bar 1: half the equity
        cash1 = CASH - q1 * buy(11.5) * (1 + FEE)  # 500
        target2 = (cash1 + q1 * 12.5) / (buy(12.5) * (1 + FEE))  # bar 2: all the equity
        d2 = target2 - q1
        cash2 = cash1 - d2 * buy(12.5) * (1 + FEE)
        pos2 = q1 + d2
        target4 = 0.25 * (cash2 + pos2 * 14.5) / (buy(14.5) * (1 + FEE))  # bar 4: a quarter, sized at the buy price
        d4 = pos2 - target4
        cash4 = cash2 + d4 * sell(14.5) * (1 - FEE)
        cash5 = cash4 + target4 * sell(15.5) * (1 - FEE)
        assert cash1 == approx(500)
        assert r.position.tolist() == approx([0, q1, pos2, pos2, target4, 0], rel=1e-9)
        assert r.equity.tolist() == approx(
            [CASH, cash1 + q1 * 11.5, cash2 + pos2 * 12.5, cash2 + pos2 * 13.5, cash4 + target4 * 14.5, cash5], rel=1e-9
        )
        (trade,) = r.trades  # flat to flat, whatever the rebalances in between
        assert (trade.entry_date, trade.exit_date, trade.status) == (DAY[1], DAY[5], "closed")
        assert trade.size == approx(q1 + d2, rel=1e-9)
        entry_value = q1 * buy(11.5) + d2 * buy(12.5)
        assert trade.entry_price == approx(entry_value / (q1 + d2), rel=1e-9)
        assert trade.exit_price == approx((d4 * sell(14.5) + target4 * sell(15.5)) / (d4 + target4), rel=1e-9)
        assert trade.pnl == approx(cash5 - CASH, rel=1e-9)
        assert trade.return_pct == approx((cash5 - CASH) / entry_value, rel=1e-9)

    def test_percent_size_is_the_fraction_of_equity(self, engine, hand_bars):
        r = engine.run(hand_bars, np.array([0, 1, 1, 1, 1, 1.0]), spec(size=0.5))
        qty = 0.5 * CASH / (buy(11.5) * (1 + FEE))  # 42.6215... shares
        assert r.position.iloc[1] == approx(qty, rel=1e-12)
        assert r.equity.iloc[1] == approx(CASH - qty * buy(11.5) * (1 + FEE) + qty * 11.5, rel=1e-12)

    def test_signal_weight_crossing_zero_closes_then_sizes_on_what_is_left(self, engine, hand_bars):
        signal = np.array([0, 0.5, -0.5, -0.5, 0, 0])
        r = engine.run(hand_bars, signal, spec(size_type="signal_weight", allow_short=True))
        q_long = 0.5 * CASH / (buy(11.5) * (1 + FEE))
        cash = CASH - q_long * buy(11.5) * (1 + FEE) + q_long * sell(12.5) * (1 - FEE)
        q_short = 0.5 * cash / (sell(12.5) * (1 + FEE))  # flat after closing: equity is the cash
        assert r.position.tolist() == approx([0, q_long, -q_short, -q_short, 0, 0], rel=1e-9)
        long_, short = r.trades
        assert (long_.side, long_.exit_date, short.side, short.entry_date) == ("long", DAY[2], "short", DAY[2])
        assert short.size == approx(q_short, rel=1e-9)
        assert short.exit_price == approx(buy(14.5))

    def test_position_open_at_the_end_is_valued_at_last_close(self, engine, hand_bars):
        r = engine.run(hand_bars, np.array([0, 0, 1, 1, 1, 1.0]), spec())
        qty = CASH / (buy(12.5) * (1 + FEE))
        (trade,) = r.trades
        pnl = qty * (15.5 - buy(12.5)) - FEE * qty * buy(12.5)
        assert (trade.status, trade.exit_date, trade.exit_price) == ("open", None, 15.5)
        assert trade.pnl == approx(pnl, rel=1e-9)
        assert trade.return_pct == approx(pnl / (qty * buy(12.5)), rel=1e-9)
        assert r.equity.iloc[-1] == approx(CASH + pnl, rel=1e-9)

    def test_signal_on_last_bar_fills_at_its_close(self, engine, hand_bars):
        r = engine.run(hand_bars, np.array([0, 0, 0, 0, 0, 1.0]), spec())
        qty = CASH / (buy(15.5) * (1 + FEE))
        assert r.position.iloc[-1] == approx(qty, rel=1e-9)
        (trade,) = r.trades
        assert (trade.entry_date, trade.status, trade.entry_price) == (DAY[5], "open", approx(buy(15.5)))

    def test_signal_on_last_bar_never_fills_at_next_open(self, engine, hand_bars):
        r = engine.run(hand_bars, np.array([0, 0, 0, 0, 0, 1.0]), spec(fill_price="next_open"))
        assert r.trades == []
        assert r.equity.tolist() == [CASH] * 6
        assert r.position.tolist() == [0.0] * 6
        assert r.traded_notional == 0.0

    def test_nan_signal_means_flat(self, engine, hand_bars):
        r = engine.run(hand_bars, np.array([np.nan, 1, 1, np.nan, 0, 0]), spec())
        assert [(t.entry_date, t.exit_date) for t in r.trades] == [(DAY[1], DAY[3])]

    def test_outputs_are_indexed_by_bar(self, engine, hand_bars):
        r = engine.run(hand_bars, np.zeros(6), spec())
        assert r.equity.index.equals(hand_bars.index) and r.position.index.equals(hand_bars.index)

    def test_short_that_cannot_be_bought_back_fails_the_run(self, engine):
        # Short 1000 of equity at 10, the price triples: covering costs ~3000 against ~2000 of cash.
        close = np.array([10.0, 20.0, 30.0, 30.0])
        bars = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=DAY[:4])
        with pytest.raises(EngineError, match="cannot be bought back"):
            engine.run(bars, np.array([-1, -1, 0, 0.0]), spec(allow_short=True))

    def test_short_held_to_the_end_may_leave_negative_equity(self, engine):
        close = np.array([10.0, 20.0, 30.0, 30.0])
        bars = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=DAY[:4])
        r = engine.run(bars, np.array([-1, -1, -1, -1.0]), spec(allow_short=True))
        assert r.equity.iloc[-1] < 0
        assert [t.status for t in r.trades] == ["open"]

    def test_rejects_signal_of_wrong_length(self, engine, hand_bars):
        with pytest.raises(ValidationError, match="signal"):
            engine.run(hand_bars, np.zeros(5), spec())

    def test_rejects_signal_outside_unit_range(self, engine, hand_bars):
        with pytest.raises(ValidationError, match="signal"):
            engine.run(hand_bars, np.full(6, 2.0), spec())

    def test_rejects_unknown_size_type_naming_the_field(self, engine, hand_bars):
        with pytest.raises(ValidationError) as caught:
            engine.run(hand_bars, np.zeros(6), spec(size_type="kelly"))
        assert [v.field for v in caught.value.violations] == ["spec.size_type"]

    def test_rejects_bars_without_prices_naming_each_problem(self, engine, hand_bars):
        bars = hand_bars.drop(columns=["volume"]).assign(open=np.nan)
        with pytest.raises(ValidationError) as caught:
            engine.run(bars, np.zeros(6), spec())
        assert sorted(v.field for v in caught.value.violations) == ["bars.open", "bars.volume"]
