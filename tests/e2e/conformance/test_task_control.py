"""Cancel a task and watch it live: POST /tasks/{id}/cancel and GET /tasks/{id}/events.

Sweeps run on backtrader (one job per run, no broadcast batch) over
one-minute bars, long enough per run that a cancel finds runs in progress
and runs still queued, and that a watch sees the task move.
"""

from __future__ import annotations

from typing import Any

import pytest

from . import runs, synthetic_bars
from .conftest import Series, import_series
from .contract import is_uuid

FINAL = ("SUCCESS", "FAILURE", "REVOKED")
# Backtrader works through 1,000-17,000 one-minute bars a second, as busy as the machine is: a run takes
# between half a second and several, far longer than the moment between a task's STARTED and a cancel.
SLOW_RUN_BARS = 8_000
QUICK_RUN_BARS = 3_000


@pytest.fixture(scope="module")
def bars(api) -> Series:
    """One-minute bars under a fresh symbol, enough for seconds-long backtrader runs."""
    return import_series(api, synthetic_bars.unique_symbol("CTL"), "1m", synthetic_bars.minutes(SLOW_RUN_BARS))


def sweep(api, strategy_id: str, config: dict[str, Any], n: int) -> str:
    """A backtrader sweep of `n` runs (fast periods 2..n+1); returns its task id."""
    grid = [{"signal_plugin_params.fast_period": 2 + i} for i in range(n)]
    body = {"strategy_id": strategy_id, "engine": "backtrader", "base_config": config, "param_grid": grid}
    response = api.post("/backtests/sweep", body)
    assert response.status == 200, response
    return response.json()["task_id"]


def execute_async(api, backtest_id: str) -> str:
    """POST /backtests/{id}/execute/async; returns the task id."""
    response = api.post(f"/backtests/{backtest_id}/execute/async", {})
    assert response.status == 200, response
    return response.json()["task_id"]


def cancel(api, task_id: str):
    return api.post(f"/tasks/{task_id}/cancel", {})


def test_cancel_during_a_sweep_drops_queued_runs_and_leaves_none_running(api, fresh_strategy, bars):
    config = bars.config(signal_plugin_params={"fast_period": 5, "slow_period": 30})
    task_id = sweep(api, fresh_strategy["id"], config, 8)
    # Two executors: once the task has STARTED, runs are in progress and others still queued.
    runs.poll(lambda: api.get(f"/tasks/{task_id}"), lambda t: t["status"] != "PENDING", timeout_s=60)

    response = cancel(api, task_id)
    assert response.status == 200, response
    task = response.json()
    assert task["status"] == "REVOKED" and task["task_id"] == task_id
    progress = task["progress"]
    assert progress["total"] == 8
    assert progress["revoked"] >= 4, progress  # two executors: few runs can have finished by now
    assert progress["succeeded"] + progress["failed"] + progress["revoked"] == 8, progress

    # Nothing is left running, at once; the revoked runs say why.
    backtests = runs.list_backtests(api, fresh_strategy["id"])
    assert len(backtests) == 8
    statuses = [b["status"] for b in backtests]
    assert "running" not in statuses, statuses
    assert statuses.count("revoked") == progress["revoked"]
    assert statuses.count("completed") == progress["succeeded"]
    revoked = [b for b in backtests if b["status"] == "revoked"]
    assert all(task_id in b["metrics"]["error"] for b in revoked)
    assert all(b["trades_uri"] is None and b["equity_curve_uri"] is None for b in revoked)

    # A revoked run has no outcome: it can be executed again, every one of them, those executors were
    # computing at the cancel too. Their new runs wait for a free executor: the runs that were in
    # progress finish computing meanwhile, and their results change nothing (neither the runs, now
    # their new jobs', nor the cancelled task).
    again = [execute_async(api, b["id"]) for b in revoked]
    done = [runs.wait_task(api, task) for task in again]
    assert all(d["status"] == "SUCCESS" for d in done), done
    later = api.get(f"/tasks/{task_id}").json()
    assert (later["status"], later["progress"]) == ("REVOKED", progress)
    after = {b["id"]: b["status"] for b in runs.list_backtests(api, fresh_strategy["id"])}
    assert after == {b["id"]: b["status"] for b in backtests} | {b["id"]: "completed" for b in revoked}

    # A task ends once: a second cancel is a conflict naming the state.
    again = cancel(api, task_id)
    assert again.status == 409, again
    assert "REVOKED" in again.json()["message"]


def test_cancel_a_single_execute(api, fresh_strategy, bars):
    created = runs.create_backtest(api, fresh_strategy["id"], bars.config(), engine="backtrader")
    response = cancel(api, execute_async(api, created["id"]))
    assert response.status == 200, response
    task = response.json()
    assert task["status"] == "REVOKED" and task["kind"] == "execute"
    assert task["progress"]["revoked"] + task["progress"]["succeeded"] + task["progress"]["failed"] == 1
    assert runs.get_backtest(api, created["id"])["status"] in ("revoked", "completed")
    report = api.get(f"/tasks/{task['task_id']}/report")
    assert report.status == 409 and "cancelled" in report.json()["message"]


def test_cancel_a_finished_task_is_a_conflict_naming_its_state(api, completed_task):
    response = cancel(api, completed_task)
    assert response.status == 409, response
    assert "SUCCESS" in response.json()["message"]
    assert api.get(f"/tasks/{completed_task}").json()["status"] == "SUCCESS"


def test_cancel_an_unknown_task_is_not_found(api):
    missing = runs.missing_id()
    response = cancel(api, missing)
    assert response.status == 404, response
    assert missing in response.json()["message"]
    assert api.post("/tasks/not-a-uuid/cancel", {}).status in (400, 422)


@pytest.fixture
def completed_task(api, fresh_strategy, daily) -> str:
    created = runs.create_backtest(api, fresh_strategy["id"], daily.config())
    task_id = execute_async(api, created["id"])
    assert runs.wait_task(api, task_id)["status"] == "SUCCESS"
    return task_id


def test_progress_streams_as_the_sweep_advances_and_ends_with_it(api, fresh_strategy, bars):
    config = bars.config(last=QUICK_RUN_BARS - 1, signal_plugin_params={"fast_period": 5, "slow_period": 30})
    task_id = sweep(api, fresh_strategy["id"], config, 6)

    events = list(api.stream_array(f"/tasks/{task_id}/events"))
    updates = [element for _, element in events]
    assert all(u["task_id"] == task_id for u in updates)
    # It began before the sweep was done, and its elements came as the task moved, not all at the end.
    assert updates[0]["status"] not in FINAL, updates[0]
    assert events[-1][0] - events[0][0] > 0.2, [at for at, _ in events]
    done = [u["progress"]["succeeded"] + u["progress"]["failed"] for u in updates]
    assert done == sorted(done) and len(set(done)) >= 2, done
    # Each one a change: of the status, the counts, or the best run (which may lag the counts by up to a second).
    assert all(earlier != later for earlier, later in zip(updates, updates[1:], strict=False)), updates
    # It ended when the task did, with its final state and the best run so far: the leaderboard's top.
    last = updates[-1]
    assert last["status"] == "SUCCESS" and last["progress"]["succeeded"] == 6, last
    assert all(u["status"] not in FINAL for u in updates[:-1])
    task = api.get(f"/tasks/{task_id}").json()
    top = task["result"]["leaderboard"][0]
    assert last["best"]["metric"] == "perf_sharpe_ratio" and is_uuid(last["best"]["backtest_id"])
    assert last["best"]["value"] == pytest.approx(top["metrics"]["perf_sharpe_ratio"])


def test_watching_a_finished_task_gives_its_final_state_and_ends(api, completed_task):
    updates = [element for _, element in api.stream_array(f"/tasks/{completed_task}/events")]
    assert len(updates) == 1
    (update,) = updates
    assert update["status"] == "SUCCESS"
    assert update["progress"] == {"succeeded": 1, "failed": 0, "total": 1, "revoked": 0}
    assert update["best"]["metric"] == "perf_sharpe_ratio"


def test_watching_an_unknown_task_is_not_found(api):
    missing = runs.missing_id()
    with pytest.raises(AssertionError) as raised:
        list(api.stream_array(f"/tasks/{missing}/events"))
    (response,) = raised.value.args
    assert response.status == 404 and missing in response.json()["message"]


def test_a_cancelled_sweeps_watch_ends_revoked(api, fresh_strategy, bars):
    config = bars.config(signal_plugin_params={"fast_period": 5, "slow_period": 30})
    task_id = sweep(api, fresh_strategy["id"], config, 6)
    stream = api.stream_array(f"/tasks/{task_id}/events")
    _, first = next(stream)
    assert first["status"] not in FINAL
    assert cancel(api, task_id).status == 200
    rest = [element for _, element in stream]
    assert rest and rest[-1]["status"] == "REVOKED", rest
    progress = rest[-1]["progress"]
    assert progress["succeeded"] + progress["failed"] + progress["revoked"] == progress["total"] == 6
