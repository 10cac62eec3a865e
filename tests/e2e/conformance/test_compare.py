"""POST /backtests/compare: 2..10 ids, metric_diff per key with values, best_id by direction, 404 and 422."""

from __future__ import annotations

import pytest

from . import runs
from .contract import HIGHER_IS_BETTER, LOWER_IS_BETTER, NEUTRAL, assert_not_found, assert_rejected


@pytest.fixture(scope="module")
def compared(api, strategy, daily, completed) -> dict[str, dict]:
    """name -> backtest: three completed runs with different settings and one pending run."""
    return {
        "fast": completed,
        "slow": runs.run_to_completion(
            api, strategy["id"], daily.config(signal_plugin_params={"fast_period": 10, "slow_period": 50})
        ),
        "backtrader": runs.run_to_completion(
            api,
            strategy["id"],
            daily.config(signal_plugin_params={"fast_period": 3, "slow_period": 15}),
            engine="backtrader",
            commission=0.002,
        ),
        "pending": runs.create_backtest(api, strategy["id"], daily.config()),
    }


def compare(api, ids: list[str]) -> dict:
    response = api.post("/backtests/compare", {"backtest_ids": ids})
    assert response.status == 200, response
    return response.json()


def best(values: dict[str, float | None], higher: bool) -> set[str]:
    """Ids holding the best value (ties give several)."""
    present = {k: v for k, v in values.items() if v is not None}
    target = (max if higher else min)(present.values())
    return {k for k, v in present.items() if v == target}


def test_runs_come_back_in_request_order_with_their_metrics(api, compared) -> None:
    ids = [compared[name]["id"] for name in ("slow", "fast", "backtrader")]
    result = compare(api, ids)
    assert set(result) >= {"runs", "metric_diff"}
    assert [row["id"] for row in result["runs"]] == ids
    for row in result["runs"]:
        record = runs.get_backtest(api, row["id"])
        assert {k: row[k] for k in ("engine", "status", "metrics")} == {
            k: record[k] for k in ("engine", "status", "metrics")
        }


def test_metric_diff_holds_every_key_with_every_value(api, compared) -> None:
    chosen = [compared[name] for name in ("fast", "slow", "backtrader")]
    result = compare(api, [b["id"] for b in chosen])
    keys = set().union(*(b["metrics"] for b in chosen))
    assert set(result["metric_diff"]) == keys
    for key, diff in result["metric_diff"].items():
        assert diff["values"] == {b["id"]: b["metrics"].get(key) for b in chosen}, key


def test_best_id_follows_each_metrics_direction(api, compared) -> None:
    result = compare(api, [compared[name]["id"] for name in ("fast", "slow", "backtrader")])
    diffs = result["metric_diff"]
    for key in HIGHER_IS_BETTER | LOWER_IS_BETTER:
        diff = diffs[key]
        higher = key in HIGHER_IS_BETTER
        assert diff["higher_is_better"] is higher, key
        assert diff["best_id"] in best(diff["values"], higher), key
    for key in NEUTRAL:
        assert diffs[key]["best_id"] is None, key
        assert diffs[key].get("higher_is_better") is None, key


def test_the_seed_examples_metrics_pick_opposite_winners(api, compared) -> None:
    """Sharpe: the highest wins; max drawdown: the lowest wins."""
    ids = [compared[name]["id"] for name in ("fast", "slow", "backtrader")]
    diffs = compare(api, ids)["metric_diff"]
    sharpe = diffs["perf_sharpe_ratio"]["values"]
    drawdown = diffs["risk_max_drawdown"]["values"]
    assert diffs["perf_sharpe_ratio"]["best_id"] == max(sharpe, key=lambda i: sharpe[i])
    assert diffs["risk_max_drawdown"]["best_id"] == min(drawdown, key=lambda i: drawdown[i])


def test_order_of_ids_does_not_change_the_diff(api, compared) -> None:
    ids = [compared[name]["id"] for name in ("fast", "slow", "backtrader")]
    forward, backward = compare(api, ids), compare(api, ids[::-1])
    assert [row["id"] for row in backward["runs"]] == ids[::-1]
    assert forward["metric_diff"].keys() == backward["metric_diff"].keys()
    for key, diff in forward["metric_diff"].items():
        other = backward["metric_diff"][key]
        assert diff["values"] == other["values"], key
        if diff["best_id"] is None or len(best(diff["values"], diff["higher_is_better"])) == 1:
            assert diff["best_id"] == other["best_id"], key


def test_a_run_without_metrics_shows_null_and_never_wins(api, compared) -> None:
    pending, fast = compared["pending"], compared["fast"]
    result = compare(api, [pending["id"], fast["id"]])
    assert result["runs"][0]["status"] == "pending" and result["runs"][0]["metrics"] == {}
    for key, diff in result["metric_diff"].items():
        assert diff["values"][pending["id"]] is None, key
        assert diff["values"][fast["id"]] == fast["metrics"][key], key
        if key not in NEUTRAL:
            assert diff["best_id"] == fast["id"], key


def test_ten_ids_are_accepted(api, strategy, daily, compared) -> None:
    extra = [runs.create_backtest(api, strategy["id"], daily.config())["id"] for _ in range(8)]
    result = compare(api, [compared["fast"]["id"], compared["slow"]["id"], *extra])
    assert len(result["runs"]) == 10


@pytest.mark.parametrize("count", [0, 1, 11])
def test_outside_two_to_ten_ids_is_422(api, strategy, daily, compared, count) -> None:
    pool = [compared[name]["id"] for name in ("fast", "slow", "backtrader", "pending")]
    pool += [runs.missing_id() for _ in range(count - len(pool))]
    assert_rejected(api.post("/backtests/compare", {"backtest_ids": pool[:count]}), "backtest_ids")


def test_missing_body_field_is_422(api) -> None:
    assert_rejected(api.post("/backtests/compare", {}), "backtest_ids")


def test_duplicate_ids_are_422(api, compared) -> None:
    fast = compared["fast"]["id"]
    assert_rejected(api.post("/backtests/compare", {"backtest_ids": [fast, fast]}), "backtest_ids")
    assert_rejected(
        api.post("/backtests/compare", {"backtest_ids": [fast, compared["slow"]["id"], fast.upper()]}), "backtest_ids"
    )


def test_missing_ids_are_404_naming_every_one(api, compared) -> None:
    first, second = runs.missing_id(), runs.missing_id()
    response = api.post("/backtests/compare", {"backtest_ids": [compared["fast"]["id"], first, second]})
    body = assert_not_found(response, first, second)
    assert compared["fast"]["id"] not in body["message"]
