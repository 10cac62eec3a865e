"""Signal plugins on hand-checked series, their schemas, and causality."""

import numpy as np
import pandas as pd
import pytest

from services.domain.errors import ValidationError
from services.domain.signals import PLUGINS, get_plugin
from services.domain.signals.rsi import wilder_rsi

from .conftest import bars_from_close, random_bars


def signal(key, close, params=None, *, wick=0.0):
    return get_plugin(key).compute(bars_from_close(close, wick=wick), params or {}).tolist()


def test_registry_holds_the_six_plugins():
    assert set(PLUGINS) == {
        "crossover_signal",
        "rsi_signal",
        "breakout_signal",
        "bollinger_signal",
        "buy_and_hold",
        "expression",
    }
    for key, plugin in PLUGINS.items():
        assert plugin.key == key and plugin.__doc__
    with pytest.raises(KeyError, match="crossover_signal"):
        get_plugin("nope")


CLOSE = [1, 2, 3, 4, 5, 4, 3, 2, 1]


def test_crossover_sma_by_hand():
    # fast SMA(2):  -, 1.5, 2.5, 3.5, 4.5, 4.5,   3.5, 2.5, 1.5
    # slow SMA(3):  -, -,   2,   3,   4,   4.333, 4,   3,   2
    # warm-up 0, then +1 while fast > slow, else -1
    assert signal("crossover_signal", CLOSE, {"fast_period": 2, "slow_period": 3}) == [0, 0, 1, 1, 1, 1, -1, -1, -1]


def test_crossover_ema_by_hand():
    # EMA span 2 (alpha 2/3): 1, 1.667, 2.556, 3.519, 4.506, 4.169, 3.390, 2.463, 1.488
    # EMA span 3 (alpha 1/2): 1, 1.5,   2.25,  3.125, 4.063, 4.031, 3.516, 2.758, 1.879
    # the slow one counts from bar 2 (min_periods = 3)
    params = {"fast_period": 2, "slow_period": 3, "ma_type": "ema"}
    assert signal("crossover_signal", CLOSE, params) == [0, 0, 1, 1, 1, 1, -1, -1, -1]


def test_crossover_equal_averages_are_not_long():
    assert signal("crossover_signal", [5.0] * 5, {"fast_period": 2, "slow_period": 3}) == [0, 0, -1, -1, -1]


def test_rsi_by_hand():
    close = [10, 11, 12, 11, 10, 9, 10, 11, 12]
    # changes +1 +1 -1 -1 -1 +1 +1 +1; period 2, seed at bar 2: gain 1, loss 0 -> 100
    # then avg = (avg + x) / 2: gain .5 .25 .125 .5625 .78125 .890625, loss = 1 - gain
    # RSI = 100 * gain / (gain + loss) = 100 * gain
    expected = [np.nan, np.nan, 100, 50, 25, 12.5, 56.25, 78.125, 89.0625]
    np.testing.assert_allclose(wilder_rsi(bars_from_close(close)["close"], 2), expected)
    # > 70 at bar 2 -> -1 (held at 50), < 30 at bar 4 -> +1 (held at 56.25), > 70 at bar 7 -> -1
    assert signal("rsi_signal", close, {"period": 2}) == [0, 0, -1, -1, 1, 1, 1, -1, -1]


def test_rsi_of_a_flat_series_is_neutral():
    np.testing.assert_allclose(wilder_rsi(bars_from_close([7.0] * 5)["close"], 2), [np.nan, np.nan, 50, 50, 50])
    assert signal("rsi_signal", [7.0] * 5, {"period": 2}) == [0] * 5


def test_breakout_by_hand_excludes_the_current_bar():
    close = [10, 11, 12, 11, 10, 9, 10, 13]
    # high = close + .5, low = close - .5; prior 2-bar channel from bar 2:
    # bar 2: high max(10.5, 11.5) = 11.5 < 12 -> +1 (its own high 12.5 is not used)
    # bar 3: 12.5 / 10.5, close 11 -> hold +1
    # bar 4: 12.5 / 10.5, close 10 < 10.5 -> -1
    # bar 5: 11.5 / 9.5, close 9 -> -1;  bar 6: 10.5 / 8.5, close 10 -> hold -1
    # bar 7: 10.5 / 8.5, close 13 > 10.5 -> +1
    assert signal("breakout_signal", close, {"lookback": 2}, wick=0.5) == [0, 0, 1, 1, -1, -1, -1, 1]


def test_bollinger_by_hand():
    close = [10, 10, 10, 7, 8, 11, 13, 10, 9, 10]
    # period 3, 1 population std:
    # bar 2: [10 10 10] mean 10, std 0: close on the middle -> 0
    # bar 3: [10 10 7] mean 9, std 1.414, lower 7.586: 7 below -> +1
    # bar 4: [10 7 8] mean 8.333: 8 still below the middle -> hold +1
    # bar 5: [7 8 11] mean 8.667, std 1.700, upper 10.366: 11 above -> -1 (long ended)
    # bar 6: [8 11 13] mean 10.667, upper 12.721: 13 above -> -1
    # bar 7: [11 13 10] mean 11.333, lower 10.086: 10 below -> +1 (short ended)
    # bar 8: [13 10 9] mean 10.667: 9 below the middle -> hold +1
    # bar 9: [10 9 10] mean 9.667, upper 10.138: 10 at/above middle, inside -> 0
    assert signal("bollinger_signal", close, {"period": 3, "num_std": 1.0}) == [0, 0, 0, 1, 1, -1, -1, 1, 1, 0]


def test_buy_and_hold():
    assert signal("buy_and_hold", [1, 2, 3]) == [1, 1, 1]


def test_defaults_are_filled():
    assert get_plugin("crossover_signal").validate({}, "p") == {"fast_period": 10, "slow_period": 50, "ma_type": "sma"}
    assert get_plugin("rsi_signal").validate(None, "p") == {"period": 14, "lower": 30.0, "upper": 70.0}
    assert get_plugin("breakout_signal").validate({}, "p") == {"lookback": 20}
    assert get_plugin("bollinger_signal").validate({}, "p") == {"period": 20, "num_std": 2.0}
    assert get_plugin("buy_and_hold").validate({}, "p") == {}


def test_struct_doubles_are_accepted_as_integers():
    # protobuf Struct carries 10 as 10.0
    values = get_plugin("crossover_signal").validate({"fast_period": 10.0, "slow_period": 30.0}, "p")
    assert values["fast_period"] == 10 and type(values["fast_period"]) is int


def fields_of(key, params):
    with pytest.raises(ValidationError) as caught:
        get_plugin(key).validate(params, "config.signal_plugin_params")
    return [v.field for v in caught.value.violations]


@pytest.mark.parametrize(
    "key, params, field",
    [
        ("crossover_signal", {"fast_period": 50, "slow_period": 10}, "fast_period"),
        ("crossover_signal", {"fast_period": 20, "slow_period": 20}, "fast_period"),
        ("crossover_signal", {"fast_period": 2.5}, "fast_period"),
        ("crossover_signal", {"fast_period": "10"}, "fast_period"),
        ("crossover_signal", {"fast_period": True}, "fast_period"),
        ("crossover_signal", {"fast_period": 0}, "fast_period"),
        ("crossover_signal", {"slow_period": float("inf")}, "slow_period"),
        ("crossover_signal", {"ma_type": "wma"}, "ma_type"),
        ("crossover_signal", {"fast": 5}, "fast"),
        ("rsi_signal", {"lower": 80}, "lower"),
        ("rsi_signal", {"upper": 101}, "upper"),
        ("rsi_signal", {"period": 1}, "period"),
        ("breakout_signal", {"lookback": -3}, "lookback"),
        ("bollinger_signal", {"num_std": 0}, "num_std"),
        ("bollinger_signal", {"num_std": float("nan")}, "num_std"),
        ("buy_and_hold", {"period": 3}, "period"),
    ],
)
def test_bad_params_name_the_param(key, params, field):
    assert fields_of(key, params) == [f"config.signal_plugin_params.{field}"]


def test_every_param_violation_is_reported():
    assert sorted(fields_of("crossover_signal", {"fast_period": "x", "slow_period": -1, "extra": 1})) == [
        "config.signal_plugin_params.extra",
        "config.signal_plugin_params.fast_period",
        "config.signal_plugin_params.slow_period",
    ]
    assert fields_of("rsi_signal", [1, 2]) == ["config.signal_plugin_params"]


NO_LOOKAHEAD_PARAMS = {
    "crossover_signal": [{"fast_period": 3, "slow_period": 8}, {"fast_period": 3, "slow_period": 8, "ma_type": "ema"}],
    "rsi_signal": [{"period": 5, "lower": 40, "upper": 60}],
    "breakout_signal": [{"lookback": 5}],
    "bollinger_signal": [{"period": 6, "num_std": 1.0}],
    "buy_and_hold": [{}],
    "expression": [
        {
            "entry": "crossover(sma(close, $fast), sma(close, $slow)) and rsi(close, 4) < 70",
            "exit": "crossunder(sma(close, $fast), sma(close, $slow))",
            "fast": 3,
            "slow": 8,
        },
        {"exposure": "where(close > sma(close, $n), 1, -0.5) * min(1, atr(5) / close * 50)", "n": 8},
    ],
}
# The expression plugin refuses a window longer than the bars (a clear error, not a silent flat run).
SHORTEST_CUT = {"expression": 8}


@pytest.mark.parametrize("key", sorted(PLUGINS))
def test_no_lookahead(key):
    """Changing bars after t never changes the signal at or before t."""
    assert set(NO_LOOKAHEAD_PARAMS) == set(PLUGINS)
    plugin = get_plugin(key)
    bars = random_bars(240, seed=7)
    for params in NO_LOOKAHEAD_PARAMS[key]:
        full = plugin.compute(bars, params)
        assert full.shape == (240,) and np.all(np.abs(full) <= 1)
        for t in range(SHORTEST_CUT.get(key, 1) - 1, 239, 3):
            future = random_bars(240 - t - 1, seed=t)
            changed = bars.copy()
            changed.iloc[t + 1 :] = future.to_numpy()
            assert np.array_equal(plugin.compute(changed, params)[: t + 1], full[: t + 1]), f"{key} at t={t}"
            assert np.array_equal(plugin.compute(bars.iloc[: t + 1], params), full[: t + 1]), f"{key} cut at t={t}"


def test_signals_are_active_on_random_bars():
    bars = random_bars(500, seed=3)
    for key, params in NO_LOOKAHEAD_PARAMS.items():
        values = set(get_plugin(key).compute(bars, params[0]).tolist())
        expected = {1.0} if key == "buy_and_hold" else {0.0, 1.0} if key == "expression" else {-1.0, 0.0, 1.0}
        assert values == expected, key


@pytest.mark.parametrize("ma_type", ["sma", "ema"])
def test_crossover_grid_computed_together_equals_each_alone(ma_type):
    """compute_many shares the moving averages of a grid; every signal is still exactly compute's."""
    plugin = get_plugin("crossover_signal")
    bars = random_bars(400, seed=5)
    grid = [{"fast_period": f, "slow_period": s, "ma_type": ma_type} for f in (3, 5, 8) for s in (10, 20, 40)]
    together = plugin.compute_many(bars, grid)
    assert len(together) == len(grid)
    for params, signal in zip(grid, together, strict=True):
        assert np.array_equal(signal, plugin.compute(bars, params)), params


def test_compute_many_names_the_bad_params():
    with pytest.raises(ValidationError) as caught:
        get_plugin("crossover_signal").compute_many(random_bars(50, seed=1), [{"fast_period": 5}, {"fast_period": 60}])
    assert [v.field for v in caught.value.violations] == ["signal_plugin_params.fast_period"]


def _rolling_cases():
    rng = np.random.default_rng(11)
    for case in range(240):
        size = int(rng.integers(0, 300))
        kind = case % 6
        if kind == 0:
            x = rng.normal(0, 1, size)
        elif kind == 1:
            x = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, size)))
        elif kind == 2:  # repeated and signed zeros, tenths that do not add up exactly
            x = rng.choice([1.0, 2.0, -1.0, 0.1, 0.2, 0.3, -0.0, 0.0], size)
        elif kind == 3:
            x = np.round(rng.normal(0, 1e6, size), 2)
        elif kind == 4:
            x = rng.normal(0, 1, size)
            x[rng.random(size) < 0.2] = np.nan
        else:  # runs of equal values, NaN and infinities among them
            x = np.repeat(rng.normal(0, 1, size // 7 + 1), 7)[:size]
            x[rng.random(size) < 0.05] = np.nan
            x[rng.random(size) < 0.05] = np.inf
            x[rng.random(size) < 0.05] = -np.inf
        yield x, int(rng.integers(1, 60))


def test_compiled_rolling_mean_is_pandas_bit_for_bit():
    from services.domain.signals.rolling_kernels import rolling_mean

    for x, n in _rolling_cases():
        expected = pd.Series(x).rolling(n, min_periods=n).mean().to_numpy()
        assert np.array_equal(rolling_mean(x, n).view(np.int64), expected.view(np.int64)), (n, x)


def test_crossover_is_the_pandas_rule_bit_for_bit():
    """The compiled crossover equals the rule on pandas' rolling means, warm-up NaN as 0.0, for a grid too."""
    rng = np.random.default_rng(5)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, 20_000)))
    close[:3] = 100.0  # a flat start: equal averages are not long
    bars = pd.DataFrame({"close": close})
    grid = [{"fast_period": f, "slow_period": s} for f in (1, 2, 10) for s in (3, 50, 400) if f < s]
    plugin = get_plugin("crossover_signal")
    for params, got in zip(grid, plugin.compute_many(bars, grid), strict=True):
        fast = bars["close"].rolling(params["fast_period"], min_periods=params["fast_period"]).mean().to_numpy()
        slow = bars["close"].rolling(params["slow_period"], min_periods=params["slow_period"]).mean().to_numpy()
        expected = np.where(fast > slow, 1.0, -1.0)
        expected[np.isnan(fast) | np.isnan(slow)] = 0.0
        assert np.array_equal(got, expected), params
        raw = plugin.exposure(bars, **plugin.validate(params, "p"))
        assert np.array_equal(np.nan_to_num(raw, nan=0.0), expected), params


def test_a_lone_long_crossover_is_the_pandas_rule_bit_for_bit():
    """One run over enough bars computes its two averages on two threads: the same exposure, bit for bit."""
    from services.domain.signals import crossover

    rng = np.random.default_rng(6)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, crossover._BESIDE_BARS + 5_001)))
    close[rng.random(close.size) < 0.001] = np.nan
    bars = pd.DataFrame({"close": close})
    plugin = get_plugin("crossover_signal")
    for fast_period, slow_period in ((1, 2), (10, 50), (7, 3_000)):
        params = {"fast_period": fast_period, "slow_period": slow_period}
        (got,) = plugin.compute_many(bars, [params])
        fast = bars["close"].rolling(fast_period, min_periods=fast_period).mean().to_numpy()
        slow = bars["close"].rolling(slow_period, min_periods=slow_period).mean().to_numpy()
        expected = np.where(fast > slow, 1.0, -1.0)
        expected[np.isnan(fast) | np.isnan(slow)] = 0.0
        assert np.array_equal(got, expected), params
