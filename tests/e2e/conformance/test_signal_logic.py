"""Strategies as data over REST: signal logic (versioned rule trees), model-output series, plugin discovery."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest

from . import runs
from .conftest import Series
from .contract import assert_not_found, assert_rejected

RSI_TREE = [
    {"action": "BUY", "rules": [{"field": "rsi(close, 14)", "operator": "<", "value": "$lower"}]},
    {"action": "SELL", "rules": [{"field": "rsi(close, 14)", "operator": ">", "value": "$upper"}]},
]


def create_logic(api, **fields: Any) -> dict[str, Any]:
    body = {"name": "rsi mean reversion", "rule_tree": RSI_TREE, "position_mode": "long_only", **fields}
    response = api.post("/signal-logic", body)
    assert response.status == 201, response
    return response.json()


def logic_config(daily: Series, logic_id: str, **params: Any) -> dict[str, Any]:
    config = daily.config()
    del config["signal_plugin_key"]
    return {**config, "signal_logic_id": logic_id, "signal_plugin_params": {"lower": 30, "upper": 70, **params}}


@pytest.fixture(scope="module")
def logic(api) -> dict[str, Any]:
    return create_logic(api)


def test_a_signal_logic_is_created_at_version_1_in_the_seeds_shape(logic) -> None:
    required = {"id", "name", "rule_tree", "output_mode", "position_mode", "version", "created_at", "updated_at"}
    assert required <= set(logic) <= required | {"description", "strategy_id"}
    assert (logic["version"], logic["output_mode"], logic["position_mode"]) == (1, "discrete", "long_only")
    assert logic["rule_tree"][0]["rules"][0] == {"field": "rsi(close, 14)", "operator": "<", "value": "$lower"}


def test_get_and_list_show_it(api, logic) -> None:
    assert api.get(f"/signal-logic/{logic['id']}").json() == logic
    listed = api.get("/signal-logic", params={"limit": 1000}).json()
    assert logic in listed
    missing = runs.missing_id()
    assert_not_found(api.get(f"/signal-logic/{missing}"), missing)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"rule_tree": [{"action": "BUY", "rules": [{"field": "rsi(close, 14) <", "operator": "<", "value": 1}]}]},
            "rule_tree[0].rules[0].field",
        ),
        (
            {"rule_tree": [{"action": "BUY", "rules": [{"field": "close", "operator": "=>", "value": 1}]}]},
            "rule_tree[0].rules[0].operator",
        ),
        (
            {"rule_tree": [{"action": "BUY", "rules": [{"field": "close.__class__", "operator": ">", "value": 1}]}]},
            "rule_tree[0].rules[0].field",
        ),
        ({"rule_tree": []}, "rule_tree"),
        ({"position_mode": "portfolio"}, "position_mode"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
    ],
)
def test_a_bad_logic_is_a_422_naming_the_node_and_nothing_is_stored(api, body, field) -> None:
    before = len(api.get("/signal-logic", params={"limit": 1000}).json())
    response = api.post("/signal-logic", {"name": "bad", "rule_tree": RSI_TREE, **body})
    assert_rejected(response, field)
    assert len(api.get("/signal-logic", params={"limit": 1000}).json()) == before


@pytest.mark.parametrize("engine", ["vectorbt", "backtrader"])
def test_a_backtest_runs_the_logic_on_each_engine_and_records_its_version(api, strategy, daily, logic, engine) -> None:
    done = runs.run_to_completion(api, strategy["id"], logic_config(daily, logic["id"]), engine=engine)
    assert done["config"]["signal_logic_id"] == logic["id"]
    assert done["config"]["signal_logic_version"] == 1
    assert "signal_plugin_key" not in done["config"]
    assert done["structured_metrics"]["trading"]["total_trades"] > 0


def test_both_engines_agree_bar_by_bar_on_a_logic_run(api, strategy, daily, logic) -> None:
    curves = []
    for engine in ("vectorbt", "backtrader"):
        done = runs.run_to_completion(api, strategy["id"], logic_config(daily, logic["id"]), engine=engine)
        curves.append([point["equity"] for point in api.get(f"/backtests/{done['id']}/equity-curve").json()])
    np.testing.assert_allclose(curves[0], curves[1], rtol=0, atol=1e-6)


def test_an_update_makes_a_new_version_and_leaves_finished_runs_alone(api, strategy, daily) -> None:
    logic = create_logic(api, name="to be changed")
    before = runs.run_to_completion(api, strategy["id"], logic_config(daily, logic["id"]))
    changed = api.patch(
        f"/signal-logic/{logic['id']}",
        {
            "rule_tree": [
                {"action": "BUY", "rules": [{"field": "rsi(close, 5)", "operator": "<", "value": "$lower"}]},
                {"action": "SELL", "rules": [{"field": "rsi(close, 5)", "operator": ">", "value": "$upper"}]},
            ]
        },
    )
    assert changed.status == 200, changed
    assert changed.json()["version"] == 2
    unchanged = runs.get_backtest(api, before["id"])
    assert unchanged["config"]["signal_logic_version"] == 1 and unchanged["metrics"] == before["metrics"]
    after = runs.run_to_completion(api, strategy["id"], logic_config(daily, logic["id"]))
    assert after["config"]["signal_logic_version"] == 2
    assert after["metrics"] != before["metrics"]


def test_a_sweep_varies_the_logics_params(api, strategy, daily, logic) -> None:
    body = {
        "strategy_id": strategy["id"],
        "base_config": logic_config(daily, logic["id"]),
        "param_grid": [{"signal_plugin_params.lower": lower} for lower in (20, 25, 30, 35)],
        "rank_metric": "total_return",
    }
    response = api.post("/backtests/sweep", body)
    assert response.status == 200, response
    task = runs.wait_task(api, response.json()["task_id"])
    assert task["status"] == "SUCCESS", task
    board = task["result"]["leaderboard"]
    assert sorted(e["overrides"]["signal_plugin_params.lower"] for e in board) == [20, 25, 30, 35]
    assert all(e["status"] == "completed" and e["config"]["signal_logic_version"] == 1 for e in board)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"signal_plugin_params": {"lower": 30}}, "config.signal_plugin_params"),
        ({"signal_plugin_params": {"lower": 30, "upper": 70, "other": 1}}, "config.signal_plugin_params.other"),
        ({"signal_plugin_params": {"lower": "low", "upper": 70}}, "config.signal_plugin_params.lower"),
        ({"signal_plugin_key": "crossover_signal"}, "config.signal_logic_id"),
    ],
)
def test_a_backtest_on_logic_with_bad_params_is_a_422(api, strategy, daily, logic, change, field) -> None:
    config = {**logic_config(daily, logic["id"]), **change}
    assert_rejected(api.post("/backtests", {"strategy_id": strategy["id"], "config": config}), field)


def test_a_long_short_logic_needs_a_run_that_allows_shorts(api, strategy, daily) -> None:
    both_ways = create_logic(api, name="both ways", position_mode="long_short")
    response = api.post("/backtests", {"strategy_id": strategy["id"], "config": logic_config(daily, both_ways["id"])})
    assert_rejected(response, "config.signal_logic_id")
    allowed = {**logic_config(daily, both_ways["id"]), "allow_short": True}
    assert runs.run_to_completion(api, strategy["id"], allowed)["status"] == "completed"


def test_a_backtest_on_an_unknown_logic_is_a_404(api, strategy, daily) -> None:
    missing = runs.missing_id()
    response = api.post("/backtests", {"strategy_id": strategy["id"], "config": logic_config(daily, missing)})
    assert_not_found(response, missing)


def test_deleting_a_referenced_logic_is_a_409_and_an_unreferenced_one_204(api, strategy, daily) -> None:
    used = create_logic(api, name="used")
    runs.create_backtest(api, strategy["id"], logic_config(daily, used["id"]))
    assert api.delete(f"/signal-logic/{used['id']}").status == 409
    unused = create_logic(api, name="unused")
    assert api.delete(f"/signal-logic/{unused['id']}").status == 204
    assert_not_found(api.get(f"/signal-logic/{unused['id']}"), unused["id"])


def prediction_csv(daily: Series, symbol: str, *, until: int | None = None) -> bytes:
    """A model's score per bar: high after rising closes, low after falling ones."""
    index = daily.frame.index[:until]
    close = daily.frame["close"].to_numpy()[: len(index)]
    score = np.r_[0.5, np.where(np.diff(close) > 0, 0.8, 0.2)]
    frame = pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d"), "symbol": symbol, "value": score})
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def test_a_signal_series_is_stored_described_and_read_by_an_expression(api, strategy, daily) -> None:
    name = f"prediction-{daily.symbol.lower()}"
    stored = api.put(f"/signal-series/{name}", body=prediction_csv(daily, daily.symbol), content_type="text/csv")
    assert stored.status == 200, stored
    summary = stored.json()
    assert (summary["name"], summary["symbols"], summary["rows"]) == (name, [daily.symbol], len(daily.frame))
    assert api.get(f"/signal-series/{name}").json() == summary
    assert summary in api.get("/signal-series").json()
    config = daily.config(
        signal_plugin_key="expression",
        signal_plugin_params={"entry": f'series("{name}") > $cut', "exit": f'series("{name}") < 0.5', "cut": 0.7},
    )
    done = runs.run_to_completion(api, strategy["id"], config)
    assert done["structured_metrics"]["trading"]["total_trades"] > 0


def test_a_run_whose_series_stops_short_fails_naming_the_series_and_the_gap(api, strategy, daily) -> None:
    name = f"short-{daily.symbol.lower()}"
    body = prediction_csv(daily, daily.symbol, until=len(daily.frame) // 2)
    assert api.put(f"/signal-series/{name}", body=body, content_type="text/csv").status == 200
    config = daily.config(signal_plugin_key="expression", signal_plugin_params={"exposure": f'series("{name}")'})
    created = runs.create_backtest(api, strategy["id"], config)
    result = runs.execute(api, created["id"])
    assert result["status"] == "failed"
    reason = result["metrics"]["error"]
    assert f"series {name!r} ends at" in reason and "no fresh value" in reason, reason


def test_a_bad_series_file_is_a_422_naming_the_row(api, daily) -> None:
    body = b"timestamp,symbol,value\n2021-01-04,AAPL,0.5\n2021-01-05,AAPL,high\n"
    response = api.put("/signal-series/broken", body=body, content_type="text/csv")
    body = assert_rejected(response, "file")
    assert "row 2" in body["message"]
    assert api.get("/signal-series/broken").status == 404


def test_discovery_lists_every_plugin_with_its_parameter_schema_and_the_language(api) -> None:
    plugins = {entry["key"]: entry for entry in api.get("/signal-plugins").json()}
    assert {
        "crossover_signal",
        "rsi_signal",
        "breakout_signal",
        "bollinger_signal",
        "buy_and_hold",
        "expression",
    } <= set(plugins)
    crossover = plugins["crossover_signal"]
    assert (
        crossover["source"] == "built-in" and crossover["parameters"]["properties"]["fast_period"]["type"] == "integer"
    )
    functions = {f["name"]: f for f in plugins["expression"]["language"]["functions"]}
    assert {"sma", "ema", "rsi", "atr", "crossover", "series"} <= set(functions)


def test_an_update_while_a_run_is_in_flight_does_not_change_that_run(api, strategy, daily) -> None:
    logic = create_logic(api, name="changed mid-run")
    reference = runs.run_to_completion(api, strategy["id"], logic_config(daily, logic["id"]))
    created = runs.create_backtest(api, strategy["id"], logic_config(daily, logic["id"]))
    task = api.post(f"/backtests/{created['id']}/execute/async")
    assert task.status == 200, task
    patched = api.patch(f"/signal-logic/{logic['id']}", {"position_mode": "long_short"})
    assert patched.status == 200 and patched.json()["version"] == 2
    assert runs.wait_task(api, task.json()["task_id"])["status"] == "SUCCESS"
    done = runs.get_backtest(api, created["id"])
    # The job carried version 1's tree: the run is the reference run again, bar for bar.
    assert done["config"]["signal_logic_version"] == 1
    assert done["metrics"] == reference["metrics"]


HOSTILE = {
    "import": '__import__("os").system("touch /tmp/pwned") > 0',
    "attribute": "close.__class__ > 0",
    "lambda": "(lambda: 1)() > 0",
    "comprehension": "[x for x in close] > 0",
    "power tower": "9**9**9 > 0",
    "deep nesting": "(" * 5000 + "close" + ")" * 5000 + " > 0",
    "one mebibyte": "close > " + " + ".join(["1"] * 350_000),
    "unknown function": "eval(close) > 0",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_expressions_are_422s_that_execute_and_store_nothing(api, strategy, daily, text) -> None:
    before = len(runs.list_backtests(api, strategy["id"]))
    config = daily.config(signal_plugin_key="expression", signal_plugin_params={"entry": text, "exit": "close > 0"})
    assert_rejected(
        api.post("/backtests", {"strategy_id": strategy["id"], "config": config}), "config.signal_plugin_params.entry"
    )
    tree = [{"action": "BUY", "rules": [{"field": text, "operator": ">", "value": 0}]}]
    assert_rejected(api.post("/signal-logic", {"name": "hostile", "rule_tree": tree}), "rule_tree[0].rules[0].field")
    assert len(runs.list_backtests(api, strategy["id"])) == before
