"""Model-output series (alignment, what is referenced, coverage) and the discovery descriptions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from services.domain.errors import ValidationError
from services.domain.expressions.functions import FUNCTIONS
from services.domain.expressions.language import describe_language
from services.domain.expressions.parser import parse_expression
from services.domain.expressions.series import align_series, check_coverage, referenced_series
from services.domain.signals import PLUGINS
from services.domain.signals.discovery import describe_plugins

DAYS = pd.date_range("2024-01-01", periods=5, freq="D")


def test_alignment_is_as_of_each_bar():
    stamps = pd.to_datetime(["2024-01-02 00:00", "2023-12-30 00:00", "2024-01-03 12:00", "2024-01-02 00:00"])
    values = [2.0, 1.0, 3.0, 2.5]
    # 01-01: the 12-30 value; 01-02: stamped exactly at the bar, the later-given of the two; 01-03: not yet 3
    assert align_series(stamps, values, DAYS).tolist() == [1.0, 2.5, 2.5, 3.0, 3.0]
    assert np.isnan(align_series(["2024-01-03"], [7.0], DAYS)[:2]).all()
    assert np.isnan(align_series([], [], DAYS)).all()


def test_referenced_series_lists_what_to_load():
    expressions = [
        parse_expression('series("b") > series("a") and series("b") > 1', "x"),
        parse_expression("close", "y"),
    ]
    assert referenced_series(expressions) == ["a", "b"]


def test_coverage():
    check_coverage("p", ["2023-12-31", "2024-01-03", "2024-01-04"], DAYS)
    check_coverage("p", ["2023-06-01"], DAYS)  # one value never goes stale
    with pytest.raises(
        ValidationError, match=r"starts at 2024-01-03 00:00:00.*2 bars 2024-01-01 00:00:00 \.\. 2024-01-02"
    ):
        check_coverage("p", ["2024-01-03", "2024-01-05"], DAYS, field="config.signal_logic_id")
    with pytest.raises(ValidationError, match=r"ends at 2024-01-02.*no fresh value for the 2 bars 2024-01-04"):
        check_coverage("p", ["2023-12-31", "2024-01-01", "2024-01-02"], DAYS)
    with pytest.raises(ValidationError, match="has no values"):
        check_coverage("p", [], DAYS)


def test_language_description_lists_every_function_with_its_arity():
    described = describe_language()
    assert [(f["name"], f["arity"]) for f in described["functions"]] == [
        (f.name, len(f.args)) for f in FUNCTIONS.values()
    ]
    assert {"sma", "ema", "rsi", "atr", "stdev", "highest", "lowest", "roc", "shift", "crossover", "crossunder"} <= {
        f["name"] for f in described["functions"]
    }
    assert all(f["description"] for f in described["functions"])
    assert described["limits"]["max_depth"] == 32


def test_every_plugin_is_described_with_a_json_schema():
    described = describe_plugins()
    json.dumps(described)  # JSON as it is
    assert [d["key"] for d in described] == list(PLUGINS)
    crossover = described[0]["parameters"]
    assert crossover["properties"]["fast_period"] == {
        "type": "integer",
        "description": "bars of the fast average (< slow_period)",
        "default": 10,
        "minimum": 1,
        "maximum": 100_000,
    }
    assert crossover["additionalProperties"] is False
    expression = next(d for d in described if d["key"] == "expression")
    assert expression["language"]["functions"] and expression["parameters"]["oneOf"]
