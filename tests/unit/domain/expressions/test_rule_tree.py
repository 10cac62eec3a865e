"""Rule trees: validation with paths and positions, first-match evaluation, modes, limits, batches."""

from __future__ import annotations

import numpy as np
import pytest

from services.domain.errors import ValidationError
from services.domain.expressions.limits import MAX_DEPTH, MAX_RULE_NODES
from services.domain.expressions.rule_tree import check_position_mode, parse_rule_tree
from tests.unit.domain.conftest import bars_from_close, random_bars

CLOSE = [10.0, 8.0, 12.0, 9.0, 11.0, 13.0]
BUY_LOW = {"action": "BUY", "rules": [{"field": "close", "operator": "<", "value": 9}]}
SELL_HIGH = {"action": "SELL", "rules": [{"field": "close", "operator": ">", "value": "$top"}]}


def exposure(tree, position_mode="long_short", output_mode="discrete", params=None):
    parsed = parse_rule_tree(tree, position_mode=position_mode, output_mode=output_mode)
    given = {"top": 11.5} if params is None else params
    return parsed.exposure(bars_from_close(CLOSE), parsed.check_params(given, "p")).tolist()


def test_first_match_decides_and_positions_are_held():
    # close 10 8 12 9 11 13: buy at 8, sell (short) at 12, hold on 9 (not < 9), 11, sell again at 13
    assert exposure([BUY_LOW, SELL_HIGH]) == [0, 1, -1, -1, -1, -1]


def test_sell_exits_in_long_only_mode():
    # The seed turned SELL into HOLD in long_only, so its long-only trees never exited.
    assert exposure([BUY_LOW, SELL_HIGH], position_mode="long_only") == [0, 1, 0, 0, 0, 0]


def test_numeric_output_is_each_bars_action():
    assert exposure([BUY_LOW, SELL_HIGH], output_mode="numeric") == [0, 1, -1, 0, 0, -1]


def test_hold_group_shields_later_groups():
    hold_all = {"action": "HOLD", "rules": [{"field": "close", "operator": ">", "value": 12.5}]}
    assert exposure([BUY_LOW, hold_all, SELL_HIGH]) == [0, 1, -1, -1, -1, -1]
    assert exposure([hold_all, SELL_HIGH]) == [0, 0, -1, -1, -1, -1]
    assert exposure([hold_all, BUY_LOW], params={}) == [0, 1, 1, 1, 1, 1]


def test_branches_combine_and_or_and_values_may_be_expressions():
    tree = [
        {
            "combinator": "OR",
            "rules": [
                {"field": "close", "operator": "==", "value": 12},
                {
                    "combinator": "AND",
                    "rules": [
                        {"field": "close", "operator": ">=", "value": "shift(close, 1) + 1"},
                        {"field": "close", "operator": "!=", "value": 13},
                    ],
                },
            ],
        },
        {"action": "SELL", "combinator": "AND", "rules": [{"field": "close", "operator": "<=", "value": 8}]},
    ]
    # bar 1 sells (8); bar 2 close 12 buys; bar 4: 11 >= 9 + 1 and != 13 buys; bar 5: 13 is excluded
    assert exposure(tree, params={}) == [0, -1, 1, 1, 1, 1]


def test_the_seeds_example_with_a_model_series():
    tree = [
        {
            "action": "BUY",
            "rules": [
                {"field": 'series("prediction")', "operator": ">", "value": 0.7},
                {
                    "combinator": "OR",
                    "rules": [
                        {"field": 'series("sentiment")', "operator": ">", "value": 0.5},
                        {"field": "rsi(close, 2)", "operator": "<", "value": 30},
                    ],
                },
            ],
        }
    ]
    parsed = parse_rule_tree(tree)
    assert parsed.series == ["prediction", "sentiment"] and parsed.params == []
    series = {"prediction": np.array([0.8, 0.9, 0.1, 0.8, 0.8, 0.8]), "sentiment": np.array([0.6, 0, 0, 0, 0.9, 0])}
    # bar 0: 0.8 and 0.6; bar 1: sentiment 0, rsi NaN; bar 4: sentiment .9
    assert parsed.exposure(bars_from_close(CLOSE), series=series).tolist() == [1, 1, 1, 1, 1, 1]


def fields_of(tree, **modes):
    with pytest.raises(ValidationError) as caught:
        parse_rule_tree(tree, **modes)
    return {v.field: v for v in caught.value.violations}


def test_violations_name_paths_and_positions():
    tree = [
        BUY_LOW,
        {
            "action": "SHORT",
            "combinator": "XOR",
            "rules": [
                {"field": "close", "operator": ">", "value": 1},
                {"rules": [{"field": "sma(close)", "operator": "=>", "value": True}]},
                {"field": "close > 1", "operator": ">", "value": "foo + 1", "extra": 1},
                "not a rule",
            ],
        },
        {"rules": []},
    ]
    found = fields_of(tree, position_mode="portfolio", output_mode="other")
    assert set(found) == {
        "rule_tree[1].action",
        "rule_tree[1].combinator",
        "rule_tree[1].rules[1].rules[0].field",
        "rule_tree[1].rules[1].rules[0].operator",
        "rule_tree[1].rules[1].rules[0].value",
        "rule_tree[1].rules[2].field",
        "rule_tree[1].rules[2].value",
        "rule_tree[1].rules[2].extra",
        "rule_tree[1].rules[3]",
        "rule_tree[2].rules",
        "position_mode",
        "output_mode",
    }
    assert found["rule_tree[1].rules[1].rules[0].field"].problem == "arity"
    assert found["rule_tree[1].rules[2].value"].offset == 0
    assert "portfolio is not supported" in found["position_mode"].description


def test_missing_and_unused_params_are_reported():
    parsed = parse_rule_tree([SELL_HIGH])
    with pytest.raises(ValidationError) as caught:
        parsed.check_params({"bottom": 3}, "config.signal_plugin_params")
    assert {v.field for v in caught.value.violations} == {
        "config.signal_plugin_params.bottom",
        "rule_tree[0].rules[0].value",
    }


def nested(depth):
    rule = {"field": "close", "operator": ">", "value": 1}
    for _ in range(depth - 1):
        rule = {"rules": [rule]}
    return [{"rules": [rule]}]


def test_depth_and_size_limits():
    assert parse_rule_tree(nested(MAX_DEPTH))
    assert "deeper than 32" in str(fields_of(nested(MAX_DEPTH + 1)))
    fields_of(nested(5000))  # refused without recursing 5000 levels
    many = [{"rules": [{"field": "close", "operator": ">", "value": 1}] * 9}] * (MAX_RULE_NODES // 10 + 1)
    assert any("more than 1000" in v.description for v in fields_of(many).values())


@pytest.mark.parametrize("bad", [None, [], {}, "rules", [[]]])
def test_the_tree_must_be_a_list_of_groups(bad):
    assert fields_of(bad)


def test_position_mode_against_the_run():
    check_position_mode("long_only", False)
    check_position_mode("long_short", True)
    with pytest.raises(ValidationError) as caught:
        check_position_mode("long_short", False)
    assert caught.value.violations[0].field == "config.signal_logic_id"


def test_a_batch_shares_indicators_and_equals_each_alone():
    tree = [
        {"rules": [{"field": "rsi(close, $n)", "operator": "<", "value": "$low"}]},
        {"action": "SELL", "rules": [{"field": "rsi(close, $n)", "operator": ">", "value": "$high"}]},
    ]
    parsed = parse_rule_tree(tree, position_mode="long_only")
    bars = random_bars(300, seed=8)
    grid = [{"n": n, "low": low, "high": 100 - low} for n in (5, 14) for low in (20.0, 30.0)]
    batch = parsed.exposure_many(bars, grid)
    for params, values in zip(grid, batch, strict=True):
        np.testing.assert_array_equal(values, parsed.exposure(bars, params))
    assert len({v.tobytes() for v in batch}) == len(grid)
