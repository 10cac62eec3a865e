"""vectorbt and backtrader give the same trades and equity for the same run.

Every signal shape meets both fill prices, all three size types, long-only
and shorts allowed. Trades must agree in dates, side and status exactly and
in size and prices to 1e-9 relative; equity to 1e-6 relative at every bar.
"""

from __future__ import annotations

import numpy as np
import pytest

from services.domain.execution import ExecutionSpec
from services.domain.expressions.rule_tree import parse_rule_tree
from services.domain.signals import SignalContext, get_plugin
from tests.unit.engines.conftest import held_levels, synthetic_bars

N_BARS = 300  # backtrader needs ~20 ms per 300 bars; 300 bars give dozens of trades per case
BARS = synthetic_bars(N_BARS, seed=2024)


def _signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(99)
    noisy = np.round(rng.uniform(-1.0, 1.0, N_BARS), 2)
    noisy[:20] = np.nan  # a plugin's warm-up period
    return {
        "sign_flips": held_levels(N_BARS, seed=1, levels=np.array([-1.0, 0.0, 1.0]), max_hold=15),
        "flip_every_bar": np.where(np.arange(N_BARS) % 2 == 0, 1.0, -1.0),
        "fractional": held_levels(N_BARS, seed=2, levels=np.array([-1, -0.6, -0.2, 0, 0.25, 0.5, 0.9]), max_hold=10),
        "new_weight_every_bar": noisy,
        "ones": np.ones(N_BARS),
        "zeros": np.zeros(N_BARS),
        **_strategy_signals(),
    }


def _strategy_signals() -> dict[str, np.ndarray]:
    """Signals of user strategies: expression entries/exits and exposure, and rule trees."""
    expression = get_plugin("expression")
    sides = {
        "entry": "crossover(ema(close, $fast), sma(close, $slow)) and rsi(close, 7) < 65",
        "exit": "crossunder(ema(close, $fast), sma(close, $slow)) or close < lowest(low, 10) + atr(5) / 4",
        "short_entry": "rsi(close, 7) > 70 and close < shift(close, 3)",
        "short_exit": "rsi(close, 7) < 45",
        "fast": 5,
        "slow": 20,
    }
    exposure = {"exposure": "where(close > sma(close, $n), 1, -1) * min(1, 0.02 / (stdev(roc(close, 1), 10) / 100))"}
    tree = [
        {"action": "BUY", "rules": [{"field": "rsi(close, 5)", "operator": "<", "value": 35}]},
        {
            "action": "SELL",
            "combinator": "OR",
            "rules": [
                {"field": "rsi(close, 5)", "operator": ">", "value": 70},
                {"field": "close", "operator": "<", "value": "lowest(close, 15) * 1.001"},
            ],
        },
    ]
    return {
        "expression_entries_exits": expression.compute(BARS, sides),
        "expression_long_side_only": expression.compute(BARS, sides, context=SignalContext(allow_short=False)),
        "expression_exposure": expression.compute(BARS, {**exposure, "n": 15}),
        "rule_tree_discrete": parse_rule_tree(tree).exposure(BARS),
        "rule_tree_numeric": parse_rule_tree(tree, output_mode="numeric").exposure(BARS),
    }


SIGNALS = _signals()
SIZES = {"percent": (1.0, 0.5), "shares": (40.0,), "signal_weight": (1.0,)}
CASES = [
    pytest.param(
        name,
        ExecutionSpec(
            size_type=size_type, size=size, fill_price=fill, allow_short=short, commission=0.001, slippage=0.0005
        ),
        id=f"{name}-{size_type}{size:g}-{fill}-{'shorts' if short else 'long_only'}",
    )
    for name in SIGNALS
    for size_type, sizes in SIZES.items()
    for size in sizes
    for fill in ("close", "next_open")
    for short in (False, True)
]


@pytest.mark.parametrize(("signal_name", "spec"), CASES)
def test_engines_agree(vectorbt_engine, backtrader_engine, signal_name, spec):
    signal = SIGNALS[signal_name]
    vbt_run = vectorbt_engine.run(BARS, signal, spec)
    bt_run = backtrader_engine.run(BARS, signal, spec)

    np.testing.assert_allclose(bt_run.equity.to_numpy(), vbt_run.equity.to_numpy(), rtol=1e-6, atol=0)
    np.testing.assert_allclose(bt_run.position.to_numpy(), vbt_run.position.to_numpy(), rtol=1e-9, atol=1e-9)
    assert bt_run.traded_notional == pytest.approx(vbt_run.traded_notional, rel=1e-9)

    assert len(bt_run.trades) == len(vbt_run.trades)
    for bt_trade, vbt_trade in zip(bt_run.trades, vbt_run.trades, strict=True):
        key = lambda t: (t.entry_date, t.exit_date, t.side, t.status)  # noqa: E731
        assert key(bt_trade) == key(vbt_trade)
        assert bt_trade.size == pytest.approx(vbt_trade.size, rel=1e-9)
        assert bt_trade.entry_price == pytest.approx(vbt_trade.entry_price, rel=1e-9)
        assert bt_trade.exit_price == pytest.approx(vbt_trade.exit_price, rel=1e-9)
        # pnl can be near zero: compare it on the scale of the trade's notional.
        scale = vbt_trade.size * vbt_trade.entry_price
        assert bt_trade.pnl == pytest.approx(vbt_trade.pnl, rel=1e-9, abs=1e-9 * scale)
        assert bt_trade.return_pct == pytest.approx(vbt_trade.return_pct, rel=1e-9, abs=1e-9)


def test_cases_trade_in_every_size_type_and_direction(vectorbt_engine):
    # Guards the parity grid against degenerate signals that would compare nothing.
    spec = ExecutionSpec(size_type="signal_weight", allow_short=True)
    sides = {t.side for t in vectorbt_engine.run(BARS, SIGNALS["fractional"], spec).trades}
    assert sides == {"long", "short"}
    flips = vectorbt_engine.run(BARS, SIGNALS["sign_flips"], ExecutionSpec(allow_short=True)).trades
    assert len(flips) >= 20 and flips[-1].status == "closed"
    for name in ("expression_entries_exits", "rule_tree_discrete"):
        trades = vectorbt_engine.run(BARS, SIGNALS[name], ExecutionSpec(allow_short=True)).trades
        assert len(trades) >= 5 and {t.side for t in trades} == {"long", "short"}, name
    open_at_end = vectorbt_engine.run(BARS, SIGNALS["ones"], ExecutionSpec(fill_price="next_open")).trades
    assert [t.status for t in open_at_end] == ["open"]
