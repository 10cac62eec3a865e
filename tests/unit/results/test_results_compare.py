"""Compare logic on hand-made metric dicts: directions, nulls, neutral metrics, id validation."""

from __future__ import annotations

import math

import pytest

from services.domain.errors import ValidationError
from services.results.compare import compare, validate_ids
from services.results.records import BacktestRecord

A = "00000000-0000-0000-0000-00000000000a"
B = "00000000-0000-0000-0000-00000000000b"
C = "00000000-0000-0000-0000-00000000000c"


def run(ident: str, metrics: dict, *, status: str = "completed") -> BacktestRecord:
    return BacktestRecord(id=ident, engine="vectorbt", status=status, metrics=metrics)


def test_best_id_follows_each_metrics_direction():
    result = compare(
        [
            run(A, {"perf_sharpe_ratio": 1.42, "risk_max_drawdown": 0.18, "trade_avg_loss": -50.0}),
            run(B, {"perf_sharpe_ratio": 0.97, "risk_max_drawdown": 0.12, "trade_avg_loss": -20.0}),
        ]
    )
    diff = result.metric_diff
    assert (diff["perf_sharpe_ratio"].best_id, diff["perf_sharpe_ratio"].direction) == (A, "higher")
    assert (diff["risk_max_drawdown"].best_id, diff["risk_max_drawdown"].direction) == (B, "lower")
    assert diff["trade_avg_loss"].best_id == B  # the smaller average loser
    assert diff["perf_sharpe_ratio"].values == {A: 1.42, B: 0.97}


def test_every_key_of_any_run_is_compared_with_null_where_absent():
    result = compare([run(A, {"total_return": 0.1}), run(B, {"perf_cagr": 0.05}), run(C, {})])
    assert list(result.metric_diff) == ["perf_cagr", "total_return"]
    assert result.metric_diff["total_return"].values == {A: 0.1, B: None, C: None}
    assert result.metric_diff["total_return"].best_id == A
    assert result.metric_diff["perf_cagr"].best_id == B


def test_neutral_metrics_have_no_best_id():
    result = compare([run(A, {"trade_total_trades": 12, "my_custom": 3.0}), run(B, {"trade_total_trades": 40})])
    assert result.metric_diff["trade_total_trades"].best_id is None
    assert result.metric_diff["trade_total_trades"].direction == "neutral"
    assert result.metric_diff["my_custom"].direction == "neutral"  # outside the table
    assert result.metric_diff["my_custom"].values == {A: 3.0, B: None}


def test_null_and_non_finite_values_never_win():
    result = compare(
        [
            run(A, {"perf_sharpe_ratio": None}),
            run(B, {"perf_sharpe_ratio": -0.5}),
            run(C, {"perf_sharpe_ratio": math.inf}),
        ]
    )
    assert result.metric_diff["perf_sharpe_ratio"].best_id == B
    only_nulls = compare([run(A, {"perf_cagr": None}), run(B, {})])
    assert only_nulls.metric_diff["perf_cagr"].best_id is None


def test_request_order_does_not_change_the_winner_of_a_tie():
    first = compare([run(A, {"total_return": 0.2}), run(B, {"total_return": 0.2})])
    second = compare([run(B, {"total_return": 0.2}), run(A, {"total_return": 0.2})])
    assert first.metric_diff["total_return"].best_id == second.metric_diff["total_return"].best_id == A
    assert [r.id for r in second.runs] == [B, A]  # rows keep the request order


def test_runs_need_not_be_completed():
    result = compare([run(A, {}, status="pending"), run(B, {"total_return": -0.1}, status="failed")])
    assert [r.status for r in result.runs] == ["pending", "failed"]
    assert result.metric_diff["total_return"].best_id == B


def test_validate_ids_canonicalises():
    assert validate_ids([A.upper(), B]) == [A, B]


@pytest.mark.parametrize(
    "ids, words",
    [
        ([A], "between 2 and 10"),
        ([], "between 2 and 10"),
        ([f"00000000-0000-0000-0000-{i:012d}" for i in range(11)], "got 11"),
        ([A, B, A], "duplicate ids: " + A),
        ([A, A.upper()], "duplicate"),
        ([A, "not-a-uuid"], "'not-a-uuid'"),
    ],
)
def test_validate_ids_rejects_naming_backtest_ids(ids, words):
    with pytest.raises(ValidationError) as caught:
        validate_ids(ids)
    [violation] = caught.value.violations
    assert violation.field == "backtest_ids"
    assert words in violation.description


def test_look_alike_ids_are_not_uuids():
    # Found by tests/e2e/test_hostile_fields.py: a full-width digit parsed as the ASCII one.
    with pytest.raises(ValidationError):
        validate_ids([A, "\uff10" + B[1:]])  # a full-width 0
