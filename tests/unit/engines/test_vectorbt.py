"""vectorbt adapter on hand-checked cases, and its broadcast `run_many`."""

from __future__ import annotations

import time

import numpy as np
import pytest

from services.adapters.engines.vectorbt import adapter
from services.domain.errors import ValidationError
from services.domain.execution import ExecutionSpec
from tests.unit.engines.conftest import held_levels, synthetic_bars
from tests.unit.engines.hand_cases import HandChecks, spec


class TestVectorbtHandChecks(HandChecks):
    @pytest.fixture
    def engine(self, vectorbt_engine):
        return vectorbt_engine


def _grid() -> list[ExecutionSpec]:
    return [
        ExecutionSpec(size_type=size_type, size=size, fill_price=fill, allow_short=short, commission=fee)
        for size_type, size in (("percent", 1.0), ("percent", 0.4), ("shares", 25.0), ("signal_weight", 1.0))
        for fill in ("close", "next_open")
        for short in (False, True)
        for fee in (0.0, 0.002)
    ]


def test_run_many_equals_each_run_alone(vectorbt_engine):
    bars = synthetic_bars(500, seed=11)
    specs = _grid()
    levels = np.array([-1.0, -0.5, 0.0, 0.3, 1.0])
    signals = [held_levels(len(bars), seed=j, levels=levels, max_hold=12) for j in range(len(specs))]
    together = vectorbt_engine.run_many(bars, signals, specs)
    for signal, s, batched in zip(signals, specs, together, strict=True):
        alone = vectorbt_engine.run(bars, signal, s)
        assert np.array_equal(batched.equity.to_numpy(), alone.equity.to_numpy()), s
        assert np.array_equal(batched.position.to_numpy(), alone.position.to_numpy()), s
        assert batched.trades == alone.trades, s
        assert batched.traded_notional == alone.traded_notional, s
        assert alone.trades, s  # every case trades, so the comparison means something


def test_run_many_needs_one_spec_per_signal(vectorbt_engine, hand_bars):
    with pytest.raises(ValidationError, match="specs"):
        vectorbt_engine.run_many(hand_bars, [np.zeros(6)] * 2, [spec()])


def test_run_many_names_the_bad_spec(vectorbt_engine, hand_bars):
    with pytest.raises(ValidationError) as caught:
        vectorbt_engine.run_many(hand_bars, [np.zeros(6)] * 2, [spec(), spec(fill_price="vwap")])
    assert [v.field for v in caught.value.violations] == ["specs[1].fill_price"]


@pytest.mark.parametrize("size_type", ["percent", "shares", "signal_weight"])
@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_warm_up_leaves_nothing_to_compile(vectorbt_engine, size_type, fill):
    # A run that had to compile would take seconds; a compiled one takes milliseconds.
    bars = synthetic_bars(2520, seed=3)
    signal = held_levels(len(bars), seed=4, levels=np.array([-1.0, 0.0, 0.5, 1.0]), max_hold=20)
    started = time.perf_counter()
    vectorbt_engine.run(bars, signal, ExecutionSpec(size_type=size_type, fill_price=fill, allow_short=True))
    assert time.perf_counter() - started < 1.0


def test_skipping_bars_without_a_signal_change_changes_nothing(vectorbt_engine, monkeypatch):
    """The order function runs only where a signal changed; called on every bar, every result is the same."""
    bars = synthetic_bars(600, seed=5)
    specs = [*_grid(), ExecutionSpec(size_type="shares", size=5_000.0), ExecutionSpec(size_type="percent", size=2.0)]
    levels = np.array([-1.0, -0.5, 0.0, 0.3, 1.0])
    signals = [held_levels(len(bars), seed=40 + j, levels=levels, max_hold=20) for j in range(len(specs))]
    skipping = vectorbt_engine.run_many(bars, signals, specs)
    assert sum(adapter._order_bars(np.column_stack(signals), np.zeros(len(specs), dtype=bool))) < len(bars)
    monkeypatch.setattr(adapter, "_order_bars", lambda signal, _: np.ones(len(signal), dtype=np.bool_))
    every_bar = vectorbt_engine.run_many(bars, signals, specs)
    for s, fast, full in zip(specs, skipping, every_bar, strict=True):
        assert np.array_equal(fast.equity.to_numpy(), full.equity.to_numpy()), s
        assert np.array_equal(fast.position.to_numpy(), full.position.to_numpy()), s
        assert fast.trades == full.trades, s
        assert fast.traded_notional == full.traded_notional, s
        assert full.trades, s


def test_holdings_are_vectorbts_assets_and_value_bit_for_bit(vectorbt_engine, monkeypatch):
    """The one-pass position and equity equal vectorbt's six-pass assets, cash and value, bit for bit."""
    from vectorbt.portfolio import nb as pnb
    from vectorbt.portfolio.enums import Direction

    bars = synthetic_bars(600, seed=8)
    specs = [*_grid(), ExecutionSpec(size_type="shares", size=5_000.0)]
    levels = np.array([-1.0, -0.5, 0.0, 0.3, 1.0])
    signals = [held_levels(len(bars), seed=60 + j, levels=levels, max_hold=15) for j in range(len(specs))]
    seen = {}
    holdings = adapter._holdings_nb

    def spied(n, orders, col_map, close, init_cash):
        seen.update(n=n, orders=orders, col_map=col_map, close=close, init_cash=init_cash)
        return holdings(n, orders, col_map, close, init_cash)

    monkeypatch.setattr(adapter, "_holdings_nb", spied)
    vectorbt_engine.run_many(bars, signals, specs)
    n, orders, col_map, init_cash = seen["n"], seen["orders"], seen["col_map"], seen["init_cash"]
    close = np.repeat(seen["close"][:, None], len(specs), axis=1)
    shape = (n, len(specs))
    assets = pnb.assets_nb(pnb.asset_flow_nb(shape, orders, col_map, Direction.Both))
    cash = pnb.cash_nb(pnb.cash_flow_nb(shape, orders, col_map, False), init_cash)
    value = pnb.value_nb(cash, pnb.asset_value_nb(np.where(assets == 0.0, 0.0, close), assets))
    position, equity = holdings(n, orders, col_map, seen["close"], init_cash)
    assert len(orders) > 100
    assert np.array_equal(position.T, assets)
    assert np.array_equal(equity.T, value)


def test_trades_order_as_the_structured_sort(vectorbt_engine):
    from vectorbt.portfolio.enums import trade_dt

    rng = np.random.default_rng(2)
    records = np.zeros(500, dtype=trade_dt)
    records["col"] = rng.integers(0, 4, 500)
    records["entry_idx"] = rng.permutation(10_000)[:500]
    records["size"] = rng.normal(size=500)
    expected = np.sort(records, order=["col", "entry_idx"])
    assert np.array_equal(adapter._by_column_and_entry(records), expected)
    ordered = np.sort(records, order=["col", "entry_idx"])  # already in order: returned as they are
    assert np.array_equal(adapter._by_column_and_entry(ordered), ordered)
    records["entry_idx"][:10] = 7  # ties: the structured sort decides
    records["col"][:10] = 1
    assert np.array_equal(adapter._by_column_and_entry(records), np.sort(records, order=["col", "entry_idx"]))


def _numpy_order_bars(signal: np.ndarray, fills_next_open: np.ndarray) -> np.ndarray:
    """The order bars' definition in numpy: a close fill at a change of the signal, a next-open fill one bar later."""
    before = np.empty_like(signal)
    before[0] = 0.0
    before[1:] = signal[:-1]
    changed = signal != before
    at_close = changed[:, ~fills_next_open].any(axis=1)
    at_open = np.zeros(len(signal), dtype=np.bool_)
    at_open[1:] = changed[:-1, fills_next_open].any(axis=1)
    return at_close | at_open


def test_compiled_signal_preparation_is_the_numpy_definition():
    """The compiled effective signals and order bars: `effective_signal` stacked, and the numpy rule, bit for bit."""
    from services.adapters.engines._sizing import effective_signal

    rng = np.random.default_rng(21)
    n = 3_000
    raw = [
        held_levels(n, seed=70 + j, levels=np.array([-1.0, -0.0, 0.0, 0.25, 1.0, 1.0 + 1e-13]), max_hold=9)
        for j in range(5)
    ]
    for values in raw:
        values[rng.random(n) < 0.02] = np.nan
        values[rng.random(n) < 0.01] = np.inf
        values[rng.random(n) < 0.01] = -np.inf
    for runs in (1, 2, 5):
        for shorts in ((True,) * runs, (False,) * runs, tuple(j % 2 == 0 for j in range(runs))):
            specs = [ExecutionSpec(allow_short=short) for short in shorts]
            got = adapter._effective_signals(raw[:runs], specs)
            expected = np.column_stack([effective_signal(s, short) for s, short in zip(raw, shorts, strict=False)])
            assert np.array_equal(got.view(np.int64), expected.view(np.int64)), (runs, shorts)
            for fills in ((False,) * runs, (True,) * runs, tuple(j % 2 == 1 for j in range(runs))):
                next_open = np.array(fills, dtype=bool)
                assert np.array_equal(adapter._order_bars(got, next_open), _numpy_order_bars(got, next_open))
