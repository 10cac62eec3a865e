import math

from services.domain.deflated_sharpe import DEFLATED_SHARPE
from services.domain.metric_table import METRICS, best_of, direction, sort_key
from services.domain.metrics import STORED


def test_every_metric_has_a_direction():
    # Every stored metric, then the one computed per leaderboard.
    assert list(METRICS) == [*STORED, DEFLATED_SHARPE]
    assert set(METRICS.values()) == {"higher", "lower", "neutral"}


def test_seed_directions_and_our_additions():
    higher = [
        "perf_cagr",
        "perf_sharpe_ratio",
        "perf_sortino_ratio",
        "perf_calmar_ratio",
        "total_return",
        "trade_win_rate",
        "trade_profit_factor",
        "trade_expectancy",
        "bars_in_market",
    ]
    lower = [
        "risk_max_drawdown",
        "risk_max_drawdown_duration",
        "risk_var_95",
        "risk_cvar_95",
        "risk_var_99",
        "risk_cvar_99",
        "risk_volatility_annualised",
    ]
    assert all(direction(k) == "higher" for k in higher)
    assert all(direction(k) == "lower" for k in lower)
    assert direction("trade_avg_win") == direction("trade_avg_loss") == "higher"
    assert direction("trade_total_trades") == direction("trade_turnover_annualised") == "neutral"
    assert direction("error") == "neutral"
    assert direction("perf_deflated_sharpe_ratio") == direction("returns_sharpe_per_bar") == "higher"
    assert {direction(k) for k in ("returns_count", "returns_skewness", "returns_kurtosis")} == {"neutral"}


def test_best_of_follows_direction():
    assert best_of({"a": 1.42, "b": 0.97}, "perf_sharpe_ratio") == "a"
    assert best_of({"a": 0.18, "b": 0.12}, "risk_max_drawdown") == "b"
    # avg_loss is negative: the smaller loser is the higher value.
    assert best_of({"a": -50.0, "b": -20.0}, "trade_avg_loss") == "b"


def test_best_of_skips_missing_and_neutral():
    assert best_of({"a": None, "b": 0.5, "c": math.nan}, "total_return") == "b"
    assert best_of({"a": None, "b": None}, "total_return") is None
    assert best_of({}, "total_return") is None
    assert best_of({"a": 3, "b": 9}, "trade_total_trades") is None
    assert best_of({"a": 1.0, "b": 1.0}, "total_return") == "a"  # ties: first listed


def test_sort_key_ranks_best_first_and_missing_last():
    runs = {"a": 0.10, "b": None, "c": 0.30, "d": 0.20}
    by = lambda key: sorted(runs, key=lambda r: sort_key(runs[r], key))  # noqa: E731
    assert by("total_return") == ["c", "d", "a", "b"]
    assert by("risk_max_drawdown") == ["a", "d", "c", "b"]
    assert by("trade_total_trades") == ["c", "d", "a", "b"]  # neutral: descending, as the seed
