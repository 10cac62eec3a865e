"""Strategies as data from Python against the stack: signal logic, model-output series, plugins, runs on them."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest

from backtest_client import (
    ConflictError,
    NotFoundError,
    RunConfig,
    SignalLogic,
    SignalSeriesSummary,
    ValidationError,
)
from tests.e2e.conformance import synthetic_bars
from tests.e2e.researcher.conftest import RSI_PARAMS, RSI_TREE


def logic_config(daily, logic, **params) -> RunConfig:
    symbol, config = daily
    return RunConfig(symbol, config.start, config.end, logic=logic, params={**RSI_PARAMS, **params})


def predictions(symbol: str, n: int = 500) -> pd.DataFrame:
    """A model's score per bar of the daily series: high after a rising close, low after a falling one."""
    bars = synthetic_bars.daily(n)
    score = np.r_[0.5, np.where(np.diff(bars["close"].to_numpy()) > 0, 0.8, 0.2)]
    return pd.DataFrame({"timestamp": bars.index, "symbol": symbol, "value": score})


def test_a_signal_logic_is_created_fetched_listed_updated_to_a_new_version_and_deleted(client):
    created = client.signal_logic.create(
        "client lifecycle", RSI_TREE, position_mode="long_only", description="from the client test"
    )
    assert isinstance(created, SignalLogic) and created.version == 1
    assert (created.output_mode, created.position_mode) == ("discrete", "long_only")
    assert created.rule_tree == RSI_TREE and created.description == "from the client test"
    assert client.signal_logic.get(created.id) == created
    assert created in client.signal_logic.list(limit=1000)
    tree = [{"action": "BUY", "rules": [{"field": "close", "operator": ">", "value": "sma(close, $period)"}]}]
    updated = client.signal_logic.update(created.id, rule_tree=tree, output_mode="numeric")
    assert (updated.version, updated.output_mode, updated.rule_tree) == (2, "numeric", tree)
    assert (updated.name, updated.position_mode) == (created.name, "long_only")  # fields not given stay
    assert client.signal_logic.get(created.id) == updated
    client.signal_logic.delete(created.id)
    with pytest.raises(NotFoundError, match=created.id):
        client.signal_logic.get(created.id)


def test_a_bad_rule_tree_is_a_validation_error_naming_the_node_and_the_position(client):
    tree = [{"action": "BUY", "rules": [{"field": "close", "operator": ">", "value": 1}]}]
    tree[0]["rules"].append({"field": "sma(clsoe, 10)", "operator": ">", "value": 1})
    with pytest.raises(ValidationError) as caught:
        client.signal_logic.create("typo", tree)
    (violation,) = caught.value.violations
    assert violation.field == "rule_tree[0].rules[1].field" and caught.value.status == 422
    assert "unknown name 'clsoe'" in violation.description
    assert "sma(clsoe, 10)\n      ^" in violation.description  # the caret under the offending name
    assert "rule_tree[0].rules[1].field" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        client.signal_logic.create("portfolio", RSI_TREE, position_mode="portfolio")
    assert [v.field for v in caught.value.violations] == ["position_mode"]


def test_a_logic_given_as_model_or_id_runs_like_the_rsi_plugin_and_like_an_expression(client, daily, rsi_logic):
    by_model = client.run(logic_config(daily, rsi_logic))
    assert by_model.backtest.config.logic == rsi_logic.id and by_model.backtest.config.logic_version == 1
    assert by_model.backtest.config.plugin is None and by_model.metrics["trade_total_trades"] > 0
    by_id = client.submit(logic_config(daily, rsi_logic.id), engine="backtrader").wait()
    symbol, config = daily
    plugin = client.run(RunConfig(symbol, config.start, config.end, plugin="rsi_signal", params=RSI_PARAMS))
    expression = client.run(
        RunConfig.expression(
            symbol,
            config.start,
            config.end,
            entry="rsi(close, $period) < $lower",
            exit="rsi(close, $period) > $upper",
            params=RSI_PARAMS,
        )
    )
    assert expression.backtest.config.plugin == "expression"
    assert expression.backtest.config.params == {
        "entry": "rsi(close, $period) < $lower",
        "exit": "rsi(close, $period) > $upper",
        **RSI_PARAMS,
    }
    # One rule, written four ways (a stored tree on each engine, the built-in plugin, an expression): one curve.
    for other in (by_id, plugin, expression):
        np.testing.assert_allclose(other.equity.to_numpy(), by_model.equity.to_numpy(), rtol=0, atol=1e-6)


def test_a_sweep_varies_a_logics_param(client, daily, rsi_logic):
    board = client.sweep(logic_config(daily, rsi_logic), {"signal_plugin_params.lower": [20, 25, 30, 35]}).wait(
        progress=False
    )
    assert sorted(board["signal_plugin_params.lower"]) == [20, 25, 30, 35]
    assert set(board["status"]) == {"completed"}
    run = client.backtests.get(board["backtest_id"].iloc[0])
    assert run.config.logic == rsi_logic.id and run.config.logic_version == 1


def test_a_logic_run_without_one_of_its_params_names_it(client, daily, rsi_logic):
    symbol, config = daily
    missing_upper = RunConfig(symbol, config.start, config.end, logic=rsi_logic, params={"period": 14, "lower": 30})
    with pytest.raises(ValidationError) as caught:
        client.run(missing_upper)
    assert [v.field for v in caught.value.violations] == ["config.signal_plugin_params.upper"]
    unknown = str(uuid.uuid4())
    with pytest.raises(NotFoundError, match=unknown):
        client.run(logic_config(daily, unknown))


def test_a_logic_a_backtest_names_is_not_deleted(client, daily):
    logic = client.signal_logic.create("referenced", RSI_TREE, position_mode="long_only")
    client.submit(logic_config(daily, logic)).wait()
    with pytest.raises(ConflictError, match="referenced by backtests"):
        client.signal_logic.delete(logic.id)
    assert client.signal_logic.get(logic.id) == logic


def test_series_are_imported_from_a_file_a_frame_or_a_series_and_read_by_expressions(client, daily, tmp_path):
    symbol, config = daily
    table = predictions(symbol)
    path = tmp_path / "prediction.csv"
    table.assign(timestamp=table["timestamp"].dt.strftime("%Y-%m-%d")).to_csv(path, index=False)
    name = f"pred-{symbol.lower()}"
    from_file = client.signal_series.import_file(path, name=name)
    assert isinstance(from_file, SignalSeriesSummary)
    assert (from_file.name, from_file.symbols, from_file.rows) == (name, [symbol], 500)
    assert from_file.start == table["timestamp"].iloc[0] and from_file.end == table["timestamp"].iloc[-1]
    from_frame = client.signal_series.import_frame(table, name=name + "-frame")
    values = table.set_index(["timestamp", "symbol"])["value"]
    from_series = client.signal_series.import_frame(values, name=name + "-series")
    # The same values, however they were sent: the stored files are one file.
    assert from_file.sha256 == from_frame.sha256 == from_series.sha256
    assert client.signal_series.get(name) == from_file
    listed = client.signal_series.list()
    assert all(summary in listed for summary in (from_file, from_frame, from_series))
    result = client.run(
        RunConfig.expression(
            symbol,
            config.start,
            config.end,
            entry=f'series("{name}") > $cut',
            exit=f'series("{name}") < 0.5',
            params={"cut": 0.7},
        )
    )
    assert result.metrics["trade_total_trades"] > 0


def test_a_bad_series_row_is_named_and_an_unknown_series_is_not_found(client, tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text("timestamp,symbol,value\n2021-01-04,AAPL,0.5\n2021-01-05,AAPL,high\n")
    with pytest.raises(ValidationError, match="row 2") as caught:
        client.signal_series.import_file(path, name="broken-client")
    assert [v.field for v in caught.value.violations] == ["file"]
    with pytest.raises(NotFoundError, match="broken-client"):
        client.signal_series.get("broken-client")


def test_plugins_are_listed_with_their_schemas_and_the_expression_language(client):
    plugins = {plugin.key: plugin for plugin in client.signal_plugins.list()}
    assert {"crossover_signal", "rsi_signal", "expression"} <= set(plugins)
    rsi = plugins["rsi_signal"]
    assert rsi.source == "built-in" and rsi.parameter_names == ["lower", "period", "upper"]
    assert rsi.parameters["properties"]["period"]["type"] == "integer" and rsi.language is None
    language = client.signal_plugins.language()
    assert language == plugins["expression"].language
    arities = {function.name: function.arity for function in language.functions}
    assert {"sma": 2, "rsi": 2, "atr": 1, "where": 3, "series": 1}.items() <= arities.items()
    assert language.function("crossover").signature == "crossover(a, b)"
    assert "close" in language.names and language.limits["max_text_bytes"] == 4096
