"""Execution: engines/available, sync execute on each engine, async execute and tasks, failed runs, 409, 504."""

from __future__ import annotations

import math
import time

import pytest

from . import runs
from .contract import (
    DEADLINE_EXCEEDED,
    ENGINES,
    RESULT_FIELDS,
    STRUCTURED_PATHS,
    assert_conflict,
    assert_not_found,
    error_body,
    is_uuid,
    parse_timestamp,
    seed_example,
    structured_value,
)

TASK_STATES = ("PENDING", "STARTED", "PROGRESS", "SUCCESS", "FAILURE")
# Bars of the one-minute series the 409 run covers: a few seconds of backtrader.
CONFLICT_RUN_BARS = 20_000


def test_engines_available_lists_both_engines(api) -> None:
    response = api.get("/backtests/engines/available")
    assert response.status == 200, response
    assert response.json() == {"engines": ENGINES}


@pytest.fixture(scope="module")
def seed_runs(api, strategy, daily) -> dict[str, tuple[dict, dict]]:
    """engine -> (created, sync execute response) of the seed's create example on each engine."""
    results = {}
    for engine in ENGINES:
        created = runs.create_backtest(api, **{**seed_example(strategy["id"], daily.symbol), "engine": engine})
        response = api.post(f"/backtests/{created['id']}/execute", {"async_mode": False})
        assert response.status == 200, response
        results[engine] = (created, response.json())
    return results


@pytest.mark.parametrize("engine", ENGINES)
def test_sync_execute_returns_the_completed_result(api, seed_runs, engine) -> None:
    created, result = seed_runs[engine]
    assert RESULT_FIELDS <= set(result), f"missing: {sorted(RESULT_FIELDS - set(result))}"
    assert result["status"] == "completed", result
    assert result["id"] == created["id"] and result["strategy_id"] == created["strategy_id"]
    assert result["engine"] == engine
    assert result["trades_uri"].startswith("s3://") and result["equity_curve_uri"].startswith("s3://")
    assert parse_timestamp(result["updated_at"]) >= parse_timestamp(result["created_at"])
    fetched = runs.get_backtest(api, created["id"])
    assert fetched["status"] == "completed"
    assert fetched["metrics"] == result["metrics"]
    assert fetched["structured_metrics"] == result["structured_metrics"]


@pytest.mark.parametrize("engine", ENGINES)
def test_structured_metrics_mirror_the_flat_metrics(seed_runs, engine) -> None:
    _, result = seed_runs[engine]
    structured, flat = result["structured_metrics"], result["metrics"]
    assert {"performance", "risk", "trading"} <= set(structured)
    for key in STRUCTURED_PATHS:
        assert key in flat, key
        value = flat[key]
        assert value is None or (isinstance(value, (int, float)) and math.isfinite(value)), (key, value)
        assert structured_value(structured, key) == pytest.approx(value), key
    assert flat["trade_total_trades"] > 0, "the synthetic series should make the crossover trade"


def test_both_engines_give_the_same_metrics(seed_runs) -> None:
    """DESIGN.md: one execution semantics for both engines."""
    vectorbt, backtrader = (seed_runs[engine][1]["metrics"] for engine in ("vectorbt", "backtrader"))
    assert set(vectorbt) == set(backtrader)
    for key, value in vectorbt.items():
        assert backtrader[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key


@pytest.mark.parametrize("engine", ENGINES)
def test_zero_commission_and_slippage_are_applied(api, strategy, daily, engine) -> None:
    """0.0 is a valid cost, not "use the default": costs only lower the return."""
    returns = {}
    for cost in (0.0, 0.0001, 0.0005):
        created = runs.create_backtest(
            api, strategy["id"], daily.config(), engine=engine, commission=cost, slippage=cost
        )
        assert (created["commission"], created["slippage"]) == (cost, cost)
        result = runs.execute(api, created["id"])
        assert result["status"] == "completed" and result["metrics"]["trade_total_trades"] > 0, result
        returns[cost] = result["metrics"]["total_return"]
    assert returns[0.0] > returns[0.0001] > returns[0.0005], returns


def check_async_handle(response) -> str:
    """{task_id, status: PENDING}; returns the task id."""
    assert response.status == 200, response
    handle = response.json()
    assert set(handle) == {"task_id", "status"}, response
    assert handle["status"] == "PENDING" and is_uuid(handle["task_id"])
    return handle["task_id"]


@pytest.mark.parametrize("route", ["execute-async-mode", "execute-async"])
def test_async_execute_returns_a_task_that_succeeds(api, strategy, daily, route) -> None:
    created = runs.create_backtest(api, strategy["id"], daily.config(), engine="backtrader")
    if route == "execute-async":
        response = api.post(f"/backtests/{created['id']}/execute/async")  # the seed's curl sends no body
    else:
        response = api.post(f"/backtests/{created['id']}/execute", {"async_mode": True})
    task_id = check_async_handle(response)
    seen: list[dict] = []
    task = runs.wait_task(api, task_id, seen=seen)
    assert {t["status"] for t in seen} <= set(TASK_STATES)
    assert task["status"] == "SUCCESS", task
    assert task["task_id"] == task_id and task["backtest_id"] == created["id"]
    assert task["progress"] == {"succeeded": 1, "failed": 0, "total": 1, "revoked": 0}
    fetched = runs.get_backtest(api, created["id"])
    assert fetched["status"] == "completed"
    assert task["result"]["status"] == "completed"
    assert task["result"]["metrics"] == fetched["metrics"]


def test_sync_run_on_a_symbol_without_data_fails_with_the_reason(api, strategy, daily, no_data_symbol) -> None:
    created = runs.create_backtest(api, strategy["id"], daily.config(symbol=no_data_symbol))
    result = runs.execute(api, created["id"])
    assert result["status"] == "failed", result
    assert no_data_symbol in result["metrics"]["error"]
    assert result.get("structured_metrics") is None
    assert result["trades_uri"] is None and result["equity_curve_uri"] is None  # present, null: no artifacts
    fetched = runs.get_backtest(api, created["id"])
    assert fetched["status"] == "failed" and fetched["metrics"] == result["metrics"]


def test_async_run_on_a_symbol_without_data_ends_in_failure(api, strategy, daily, no_data_symbol) -> None:
    created = runs.create_backtest(api, strategy["id"], daily.config(symbol=no_data_symbol), engine="backtrader")
    task = runs.wait_task(api, check_async_handle(api.post(f"/backtests/{created['id']}/execute/async", {})))
    assert task["status"] == "FAILURE", task
    assert no_data_symbol in task["error"]
    assert task["progress"] == {"succeeded": 0, "failed": 1, "total": 1, "revoked": 0}
    fetched = runs.get_backtest(api, created["id"])
    assert fetched["status"] == "failed" and no_data_symbol in fetched["metrics"]["error"]


def test_a_range_without_bars_fails_with_the_reason(api, strategy, daily) -> None:
    config = daily.config(start_date="2010-01-01T00:00:00", end_date="2010-12-31T00:00:00")
    result = runs.execute(api, runs.create_backtest(api, strategy["id"], config)["id"])
    assert result["status"] == "failed", result
    assert result["metrics"]["error"]


def test_execute_unknown_is_404(api) -> None:
    missing = runs.missing_id()
    assert_not_found(api.post(f"/backtests/{missing}/execute", {}), missing)
    assert_not_found(api.post(f"/backtests/{missing}/execute/async", {}), missing)


def test_get_unknown_task_is_404(api) -> None:
    missing = runs.missing_id()
    assert_not_found(api.get(f"/tasks/{missing}"), missing)


def test_execute_while_running_is_409(api, strategy, minute) -> None:
    config = minute.config(last=CONFLICT_RUN_BARS - 1)
    created = runs.create_backtest(api, strategy["id"], config, engine="backtrader")
    task_id = check_async_handle(api.post(f"/backtests/{created['id']}/execute/async", {}))
    assert_conflict(api.post(f"/backtests/{created['id']}/execute", {"async_mode": False}))
    assert_conflict(api.post(f"/backtests/{created['id']}/execute", {"async_mode": True}))
    assert_conflict(api.post(f"/backtests/{created['id']}/execute/async", {}))
    assert runs.get_backtest(api, created["id"])["status"] == "running"
    # The refused calls did not disturb the run.
    assert runs.wait_task(api, task_id)["status"] == "SUCCESS"
    assert runs.get_backtest(api, created["id"])["status"] == "completed"


def test_sync_execute_past_the_deadline_is_504_and_the_run_completes(api, strategy, minute, conformance_target) -> None:
    created = runs.create_backtest(api, strategy["id"], minute.config(), engine="backtrader")
    started = time.monotonic()
    response = api.post(f"/backtests/{created['id']}/execute", {"async_mode": False})
    waited = time.monotonic() - started
    error_body(response, 504, DEADLINE_EXCEEDED)
    assert waited >= conformance_target.sync_deadline_s * 0.9, waited
    assert runs.get_backtest(api, created["id"])["status"] == "running"
    assert_conflict(api.post(f"/backtests/{created['id']}/execute", {}))
    finished = runs.wait_backtest(api, created["id"], timeout_s=300)
    assert finished["status"] == "completed", finished
    assert finished["structured_metrics"]["trading"]["total_trades"] > 0
