"""Strategies as data in the client, without a server: configs on signal logic or expressions, uploads of series,
the plugin and language types, the requests the signal-logic resource sends, logic files and the drawn rule tree."""

from __future__ import annotations

import io
import json

import httpx
import pandas as pd
import pytest
import typer
from rich.console import Console

from backtest_client import Client, RunConfig, SignalLogic, SignalPlugin
from backtest_client.cli.arguments import logic_document
from backtest_client.cli.render_signals import rule_tree
from backtest_client.resources.signal_series import series_rows

LOGIC_WIRE = {
    "id": "7d3c5f0e-0000-4000-8000-000000000001",
    "name": "rsi",
    "rule_tree": [{"action": "BUY", "rules": [{"field": "rsi(close, 14)", "operator": "<", "value": "$lower"}]}],
    "output_mode": "discrete",
    "position_mode": "long_only",
    "version": 3,
    "created_at": "2026-01-02T03:04:05Z",
    "updated_at": "2026-01-03T03:04:05Z",
}


def test_a_config_names_a_logic_by_its_id_or_its_model_and_sends_no_plugin():
    logic = SignalLogic.from_wire(LOGIC_WIRE)
    by_model = RunConfig("AAPL", "2020-01-01", "2021-01-01", logic=logic, params={"lower": 30})
    assert by_model == RunConfig("AAPL", "2020-01-01", "2021-01-01", logic=logic.id, params={"lower": 30})
    wire = by_model.to_wire()
    assert wire["signal_logic_id"] == logic.id and "signal_plugin_key" not in wire
    assert by_model.plugin is None and by_model.signal == f"signal logic {logic.id}"
    stored = RunConfig.from_wire({**wire, "signal_logic_version": 3})
    assert (stored.logic, stored.logic_version, stored.plugin) == (logic.id, 3, None)
    assert "signal_logic_version" not in stored.to_wire()  # the platform sets it; a request never does


def test_a_config_without_a_logic_runs_the_default_plugin_and_not_both():
    assert RunConfig("AAPL", "2020-01-01", "2021-01-01").to_wire()["signal_plugin_key"] == "crossover_signal"
    with pytest.raises(ValueError, match="not both"):
        RunConfig("AAPL", "2020-01-01", "2021-01-01", plugin="rsi_signal", logic="7d3c5f0e")


def test_an_expression_config_puts_its_rules_and_params_together():
    config = RunConfig.expression(
        "AAPL", "2020-01-01", "2021-01-01", entry="close > $x", exit="close < $x", params={"x": 1}, allow_short=True
    )
    assert config.plugin == "expression" and config.allow_short is True
    assert config.params == {"entry": "close > $x", "exit": "close < $x", "x": 1}
    exposure = RunConfig.expression("AAPL", "2020-01-01", "2021-01-01", exposure="where(close > 1, 1, 0)")
    assert exposure.params == {"exposure": "where(close > 1, 1, 0)"}


@pytest.mark.parametrize(
    "values",
    [
        pd.DataFrame({"timestamp": pd.to_datetime(["2021-01-04", "2021-01-05"]), "symbol": "A", "value": [1.0, 2.0]}),
        pd.DataFrame(
            {"symbol": "A", "value": [1.0, 2.0]}, index=pd.DatetimeIndex(["2021-01-04", "2021-01-05"])
        ),  # an unnamed DatetimeIndex is the timestamp
        pd.Series(
            [1.0, 2.0],
            index=pd.MultiIndex.from_arrays(
                [pd.to_datetime(["2021-01-04", "2021-01-05"]), ["A", "A"]], names=["timestamp", "symbol"]
            ),
        ),
    ],
    ids=["columns", "datetime index", "series on (timestamp, symbol)"],
)
def test_series_values_become_timestamp_symbol_value_rows(values):
    rows = series_rows(values)
    assert sorted(rows.columns) == ["symbol", "timestamp", "value"]
    assert list(rows["value"]) == [1.0, 2.0] and list(rows["symbol"]) == ["A", "A"]
    assert list(rows["timestamp"]) == list(pd.to_datetime(["2021-01-04", "2021-01-05"]))


def test_a_plugin_reads_its_schema_and_the_language_its_functions():
    plugin = SignalPlugin.from_wire(
        {
            "key": "expression",
            "description": "rules as expressions",
            "parameters": {"properties": {"exit": {"type": "string"}, "entry": {"type": "string"}}},
            "source": "built-in",
            "language": {
                "names": ["close"],
                "parameters": "$name",
                "operators": {"logical": ["and"]},
                "functions": [
                    {
                        "name": "sma",
                        "arity": 2,
                        "signature": "sma(x, n)",
                        "arguments": [{"name": "x", "kind": "a number"}, {"name": "n", "kind": "a whole number"}],
                        "returns": "a number",
                        "description": "simple moving average",
                    }
                ],
                "limits": {"max_depth": 32},
            },
        }
    )
    assert plugin.parameter_names == ["entry", "exit"]
    assert plugin.language is not None and plugin.language.function("sma").arguments == [
        ("x", "a number"),
        ("n", "a whole number"),
    ]
    with pytest.raises(KeyError, match="no function 'smaa'"):
        plugin.language.function("smaa")


def test_an_update_sends_only_the_fields_given_and_returns_the_new_version():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=LOGIC_WIRE)

    with Client("http://gateway", transport=httpx.MockTransport(answer)) as client:
        updated = client.signal_logic.update(LOGIC_WIRE["id"], description="now documented")
    (request,) = seen
    assert (request.method, request.url.path) == ("PATCH", f"/api/v1/signal-logic/{LOGIC_WIRE['id']}")
    assert json.loads(request.content) == {"description": "now documented"}
    assert updated.version == 3 and updated.updated_at == pd.Timestamp("2026-01-03T03:04:05Z")


def test_a_logic_file_is_a_mapping_of_fields_or_a_bare_tree(tmp_path):
    tree = LOGIC_WIRE["rule_tree"]
    as_yaml = tmp_path / "logic.yaml"
    as_yaml.write_text(
        "name: rsi\nposition_mode: long_only\nrule_tree:\n  - rules: [{field: close, operator: '>', value: 1}]\n"
    )
    assert logic_document(as_yaml) == {
        "name": "rsi",
        "position_mode": "long_only",
        "rule_tree": [{"rules": [{"field": "close", "operator": ">", "value": 1}]}],
    }
    bare = tmp_path / "tree.json"
    bare.write_text(json.dumps(tree))
    assert logic_document(bare) == {"rule_tree": tree}
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"name": "x", "tree": tree}))
    with pytest.raises(typer.BadParameter, match=r"unknown field\(s\) tree"):
        logic_document(unknown)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n")
    with pytest.raises(typer.BadParameter, match="mapping of signal logic fields"):
        logic_document(scalar)


def test_the_rule_tree_is_drawn_in_the_order_groups_are_tried():
    tree = [
        {"rules": [{"field": "rsi(close, 14)", "operator": "<", "value": 30.0}]},
        {
            "action": "SELL",
            "combinator": "OR",
            "rules": [
                {"field": "rsi(close, 14)", "operator": ">", "value": "$upper"},
                {"combinator": "AND", "rules": [{"field": "close", "operator": "<", "value": "sma(close, 200)"}]},
            ],
        },
    ]
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(rule_tree(tree))
    lines = [line.rstrip() for line in console.file.getvalue().splitlines()]
    assert lines == [
        "rules (the first group that matches decides)",
        "├── 1. BUY when all of",
        "│   └── rsi(close, 14) < 30",
        "└── 2. SELL when any of",
        "    ├── rsi(close, 14) > $upper",
        "    └── all of",
        "        └── close < sma(close, 200)",
    ]
