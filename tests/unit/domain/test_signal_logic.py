"""Signal logic requests and runs without servers: the whole tree checked, $params bound, versions kept."""

from __future__ import annotations

import pytest

from services.domain.errors import ValidationError
from services.domain.run_config import resolve_backtest
from services.domain.signal_logic import LogicVersion, NewSignalLogic, SignalLogicPatch, bind_run, series_read_by

TREE = [
    {"action": "BUY", "rules": [{"field": "rsi(close, 14)", "operator": "<", "value": "$lower"}]},
    {
        "action": "SELL",
        "combinator": "OR",
        "rules": [
            {"field": "rsi(close, 14)", "operator": ">", "value": "$upper"},
            {"field": 'series("prediction")', "operator": "<", "value": 0.2},
        ],
    },
]
LOGIC = LogicVersion("5f0c2a9e-7b3d-4c1a-9e8f-2b6d4a1c0e7f", 3, TREE, "discrete", "long_only")


def run(**params):
    return resolve_backtest(
        {
            "strategy_id": "00000000-0000-0000-0000-000000000001",
            "config": {
                "symbol": "AAPL",
                "timeframe": "1d",
                "start_date": "2020-01-01",
                "end_date": "2021-01-01",
                "signal_logic_id": LOGIC.logic_id,
                "signal_plugin_params": params,
            },
        }
    )


def fields_of(error: ValidationError) -> list[str]:
    return [v.field for v in error.violations]


def test_a_new_logic_takes_the_seeds_defaults():
    new = NewSignalLogic.of({"name": "rsi", "rule_tree": TREE})
    assert (new.output_mode, new.position_mode, new.strategy_id) == ("discrete", "long_short", None)


def test_a_new_logic_names_every_problem_at_once():
    bad_tree = [{"action": "BUY", "rules": [{"field": "close >", "operator": ">", "value": 1}]}]
    with pytest.raises(ValidationError) as caught:
        NewSignalLogic.of({"name": "", "rule_tree": bad_tree, "strategy_id": "x", "output_mode": "fuzzy"})
    assert set(fields_of(caught.value)) == {"name", "strategy_id", "rule_tree[0].rules[0].field", "output_mode"}


def test_a_patch_is_checked_together_with_what_it_keeps():
    assert SignalLogicPatch.of({"name": "renamed"}, LOGIC).changes == {"name": "renamed"}
    with pytest.raises(ValidationError) as caught:
        SignalLogicPatch.of({"output_mode": "numeric", "position_mode": "portfolio"}, LOGIC)
    assert fields_of(caught.value) == ["position_mode"]


def test_a_run_is_bound_to_the_version_with_its_params_as_numbers():
    bound = bind_run(run(lower=30, upper=70), LOGIC)
    assert bound.config.signal_logic_version == 3
    assert bound.config.signal_plugin_params == {"lower": 30.0, "upper": 70.0}
    assert resolve_backtest(bound.to_dict()) == bound


def test_a_run_missing_a_param_is_told_which_and_where_the_tree_uses_it():
    with pytest.raises(ValidationError) as caught:
        bind_run(run(lower=30), LOGIC)
    (violation,) = caught.value.violations
    assert violation.field == "config.signal_plugin_params.upper"
    assert "rule_tree[1].rules[0].value" in violation.description


def test_a_long_short_tree_needs_a_run_that_allows_shorts():
    both_ways = LogicVersion(LOGIC.logic_id, 1, TREE, "discrete", "long_short")
    with pytest.raises(ValidationError) as caught:
        bind_run(run(lower=30, upper=70), both_ways)
    assert fields_of(caught.value) == ["config.signal_logic_id"]


def test_the_series_a_run_reads_come_from_its_logic_or_its_expressions():
    assert series_read_by(run().config, LOGIC) == ["prediction"]
    expression = resolve_backtest(
        {
            "strategy_id": "00000000-0000-0000-0000-000000000001",
            "config": {
                "symbol": "AAPL",
                "timeframe": "1d",
                "start_date": "2020-01-01",
                "end_date": "2021-01-01",
                "signal_plugin_key": "expression",
                "signal_plugin_params": {"exposure": 'series("score") - series("bias")'},
            },
        }
    )
    assert series_read_by(expression.config, None) == ["bias", "score"]


def test_a_version_travels_in_a_job_unchanged():
    assert LogicVersion.from_job(LOGIC.to_job()) == LOGIC
