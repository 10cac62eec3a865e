"""`backtest logic | series | plugins` and `backtest run --logic` against the stack: --json parsed, exit codes."""

from __future__ import annotations

import json
import uuid

import pytest
import yaml

from tests.e2e.researcher.conftest import RSI_PARAMS, RSI_TREE, parsed, run_args

LOGIC_PARAMS = [arg for name, value in RSI_PARAMS.items() for arg in ("-p", f"{name}={value}")]


@pytest.fixture
def logic_file(tmp_path):
    """The RSI tree as a YAML signal logic file."""
    path = tmp_path / "rsi.yaml"
    path.write_text(yaml.safe_dump({"name": "rsi from yaml", "position_mode": "long_only", "rule_tree": RSI_TREE}))
    return path


def test_logic_create_show_list_update_and_delete(cli, logic_file, tmp_path):
    created = parsed(cli("logic", "create", str(logic_file), "--description", "cli test", "--json"))
    assert (created["name"], created["version"], created["position_mode"]) == ("rsi from yaml", 1, "long_only")
    assert created["rule_tree"] == RSI_TREE and created["description"] == "cli test"
    logic_id = created["id"]
    assert parsed(cli("logic", "show", logic_id, "--json")) == created
    assert created in parsed(cli("logic", "list", "--limit", "1000", "--json"))
    shown = cli("logic", "show", logic_id)
    assert shown.returncode == 0, shown.stderr
    assert "1. BUY when all of" in shown.stdout and "rsi(close, $period) < $lower" in shown.stdout
    assert logic_id in cli("logic", "list").stdout
    # A JSON file of one field, and an option: one new version.
    change = tmp_path / "change.json"
    change.write_text(json.dumps({"rule_tree": RSI_TREE[:1]}))
    updated = parsed(cli("logic", "update", logic_id, str(change), "--name", "renamed", "--json"))
    assert (updated["version"], updated["name"], updated["rule_tree"]) == (2, "renamed", RSI_TREE[:1])
    assert updated["description"] == "cli test"
    assert parsed(cli("logic", "delete", logic_id, "--json")) == {"deleted": logic_id}
    gone = cli("logic", "show", logic_id)
    assert gone.returncode == 1 and logic_id in gone.stderr


def test_a_bare_rule_tree_file_takes_its_name_from_the_option(cli, tmp_path):
    path = tmp_path / "tree.json"
    path.write_text(json.dumps(RSI_TREE))
    created = parsed(cli("logic", "create", str(path), "--name", "bare tree", "--position-mode", "long_only", "--json"))
    assert (created["name"], created["rule_tree"], created["position_mode"]) == ("bare tree", RSI_TREE, "long_only")
    nameless = cli("logic", "create", str(path))
    assert nameless.returncode == 2 and "gives no name" in nameless.stderr


def test_a_bad_rule_tree_exits_2_naming_the_node(cli, tmp_path):
    path = tmp_path / "typo.yaml"
    tree = [{"action": "BUY", "rules": [RSI_TREE[0]["rules"][0], {"field": "clsoe", "operator": ">", "value": 1}]}]
    path.write_text(yaml.safe_dump({"name": "typo", "rule_tree": tree}))
    as_json = parsed(cli("logic", "create", str(path), "--json"), code=2)
    (violation,) = as_json["error"]["violations"]
    assert violation["field"] == "rule_tree[0].rules[1].field" and "unknown name 'clsoe'" in violation["description"]
    as_text = cli("logic", "create", str(path))
    assert as_text.returncode == 2
    assert "rule_tree[0].rules[1].field" in as_text.stderr and "clsoe\n" in as_text.stderr


def test_a_logic_file_with_an_unknown_field_is_a_usage_error(cli, tmp_path):
    path = tmp_path / "extra.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "rule_tree": RSI_TREE, "rules": []}))
    done = cli("logic", "create", str(path))
    assert done.returncode == 2 and "unknown field(s) rules" in done.stderr


def test_run_logic_runs_it_with_its_params_and_a_referenced_logic_is_not_deleted(cli, daily, rsi_logic):
    done = parsed(cli(*run_args(daily, "--logic", rsi_logic.id, *LOGIC_PARAMS, "--json")))
    assert done["status"] == "completed" and done["config"]["plugin"] is None
    assert (done["config"]["logic"], done["config"]["logic_version"]) == (rsi_logic.id, 1)
    assert done["config"]["params"] == RSI_PARAMS
    text = cli(*run_args(daily, "--logic", rsi_logic.id, *LOGIC_PARAMS))
    assert text.returncode == 0, text.stderr
    assert f"signal logic {rsi_logic.id} version 1" in text.stdout and "sharpe_ratio" in text.stdout
    refused = parsed(cli("logic", "delete", rsi_logic.id, "--json"), code=1)
    assert refused["error"]["type"] == "ConflictError" and refused["error"]["status"] == 409


def test_run_logic_without_a_param_or_with_a_plugin_exits_2(cli, daily, rsi_logic):
    missing = parsed(cli(*run_args(daily, "--logic", rsi_logic.id, "-p", "period=14", "-p", "lower=30", "--json")), 2)
    assert [v["field"] for v in missing["error"]["violations"]] == ["config.signal_plugin_params.upper"]
    both = cli(*run_args(daily, "--logic", rsi_logic.id, "--plugin", "rsi_signal"))
    assert both.returncode == 2 and "--logic" in both.stderr
    unknown = str(uuid.uuid4())
    assert cli(*run_args(daily, "--logic", unknown, *LOGIC_PARAMS)).returncode == 1


def test_run_an_expression_with_the_plugin_option(cli, daily):
    entry, exit_ = "rsi(close, $period) < $lower", "rsi(close, $period) > $upper"
    params = ["-p", f"entry={entry}", "-p", f"exit={exit_}", *LOGIC_PARAMS]
    done = parsed(cli(*run_args(daily, "--plugin", "expression", *params, "--json")))
    assert done["config"]["plugin"] == "expression" and done["config"]["params"]["entry"] == entry
    assert done["metrics"]["trade_total_trades"] > 0


def test_a_sweep_over_a_logics_param_from_a_base_file(cli, daily, rsi_logic, tmp_path):
    symbol, config = daily
    base = tmp_path / "rsi_base.yaml"
    base_config = {"symbol": symbol, "timeframe": "1d", "start_date": str(config.start), "end_date": str(config.end)}
    base.write_text(
        yaml.safe_dump({**base_config, "signal_logic_id": rsi_logic.id, "signal_plugin_params": RSI_PARAMS})
    )
    result = parsed(cli("sweep", "--base", str(base), "--grid", "signal_plugin_params.lower=20,30", "--json"))
    board = result["leaderboard"]
    assert result["status"] == "SUCCESS" and len(board) == 2
    assert sorted(entry["overrides"]["signal_plugin_params.lower"] for entry in board) == [20, 30]
    assert {entry["config"]["signal_logic_id"] for entry in board} == {rsi_logic.id}


def test_series_import_and_list(cli, tmp_path):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "scores.csv"
    path.write_text("date,symbol,value\n2021-01-04,AAPL,0.5\n2021-01-05,AAPL,0.7\n2021-01-04,MSFT,0.1\n")
    summary = parsed(cli("series", "import", str(path), "--name", name, "--json"))
    assert (summary["name"], summary["symbols"], summary["rows"]) == (name, ["AAPL", "MSFT"], 3)
    assert summary in parsed(cli("series", "list", "--json"))
    table = cli("series", "list")
    assert table.returncode == 0 and name in table.stdout
    broken = tmp_path / "broken.csv"
    broken.write_text("date,symbol,value\n2021-01-04,AAPL,x\n")
    refused = parsed(cli("series", "import", str(broken), "--name", name, "--json"), code=2)
    assert refused["error"]["violations"][0]["field"] == "file" and "row 1" in refused["error"]["message"]
    assert cli("series", "import", str(tmp_path / "none.csv"), "--name", name).returncode == 2


def test_plugins_lists_them_and_shows_one_with_the_expression_language(cli):
    listed = parsed(cli("plugins", "--json"))
    keys = [plugin["key"] for plugin in listed]
    assert {"crossover_signal", "rsi_signal", "expression"} <= set(keys)
    assert all({"key", "description", "parameters", "source", "language"} <= set(p) for p in listed)
    table = cli("plugins")
    assert table.returncode == 0 and all(key in table.stdout for key in keys)
    expression = parsed(cli("plugins", "expression", "--json"))
    functions = {f["name"]: f for f in expression["language"]["functions"]}
    assert functions["sma"]["arity"] == 2 and functions["where"]["arity"] == 3
    detail = cli("plugins", "expression")
    assert detail.returncode == 0 and "crossover(a, b)" in detail.stdout and "expression functions" in detail.stdout
    rsi = cli("plugins", "rsi_signal")
    assert rsi.returncode == 0 and "period" in rsi.stdout and ">= 2" in rsi.stdout
    unknown = parsed(cli("plugins", "no_such_plugin", "--json"), code=1)
    assert unknown["error"]["type"] == "NotFoundError" and "no_such_plugin" in unknown["error"]["message"]
