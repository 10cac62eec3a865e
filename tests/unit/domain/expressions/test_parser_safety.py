"""Parsing: what is refused, where, and why; nothing in the text is ever executed; bounded work."""

from __future__ import annotations

import sys
import time
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.errors import ValidationError
from services.domain.expressions.limits import MAX_DEPTH
from services.domain.expressions.parser import parse_expression

FIELD = "config.signal_plugin_params.entry"


def refusal(text):
    with pytest.raises(ValidationError) as caught:
        parse_expression(text, FIELD)
    (violation,) = caught.value.violations
    assert violation.field == FIELD
    return violation


@pytest.mark.parametrize(
    ("text", "problem", "offset", "says"),
    [
        ('__import__("os")', "unknown name", 0, "unknown function '__import__'"),
        ('__import__("os").system("touch /tmp/pwned")', "syntax", 16, "attribute access"),
        ("close.__class__", "syntax", 5, "attribute access"),
        ("lambda: 1", "syntax", 6, "lambdas"),
        ("(lambda x: x)(close)", "syntax", 9, "lambdas"),
        ("[c for c in close]", "syntax", 0, "lists"),
        ("{c for c in close}", "syntax", 0, "sets"),
        ("9**9**9", "syntax", 1, "'**' (power)"),
        ("clsoe > 1", "unknown name", 0, "unknown name 'clsoe'"),
        ("eval(close)", "unknown name", 0, "unknown function 'eval'"),
        ("sma(close)", "arity", 0, "sma takes 2 arguments: sma(x, n); got 1"),
        ("crossover(close, open, high)", "arity", 0, "got 3"),
        ('"abc" > 1', "type", 0, "a string is allowed only as the argument of series()"),
        ("sma('close', 3)", "type", 4, "series()"),
        ("series(close)", "type", 7, "series name in quotes"),
        ('series("../etc")', "syntax", 7, "letters, digits"),
        ("close and open", "type", 0, "must be a condition"),
        ("close > 1 + (open < 2)", "type", 13, "must be a number"),
        ("sma(close, close)", "type", 11, "the same on every bar"),
        ("1 < 2 < 3", "syntax", 6, "cannot be chained"),
        ("close >", "syntax", 7, "unexpected end"),
        ("(close > 1", "syntax", 10, "expected ')'"),
        ("close > 1)", "syntax", 9, "unexpected ')'"),
        ("close(1)", "unknown name", 0, "not a function"),
        ("sma > 1", "syntax", 0, "call it as sma(x, n)"),
        ("close = 1", "syntax", 6, "compare with =="),
        ("$ > 1", "syntax", 0, "a parameter is $ followed by a name"),
        ("1e999 > close", "syntax", 0, "finite number"),
        ("close > 1 close", "syntax", 10, "expected an operator"),
    ],
)
def test_refusals_name_the_field_position_and_expectation(text, problem, offset, says):
    violation = refusal(text)
    assert (violation.problem, violation.offset) == (problem, offset), violation.description
    assert says in violation.description
    # The caret sits under the offending character of the excerpt.
    message, excerpt, caret = violation.description.split("\n")
    assert f"(at offset {offset})" in message
    if offset == len(text):
        assert caret.index("^") == len(excerpt)  # just past the end: what is missing
    else:
        assert excerpt[caret.index("^")] == text[offset]


def test_type_of_the_whole_expression_is_checked():
    with pytest.raises(ValidationError, match="the entry must be a condition"):
        parse_expression("close + 1", FIELD, expect="condition")


def test_nothing_is_executed(tmp_path, monkeypatch):
    import builtins

    called = []
    monkeypatch.setattr(builtins, "__import__", lambda *a, **k: called.append(a) or pytest.fail("imported"))
    for text in ('__import__("os")', "exec(close)", "open('x')"):
        with pytest.raises(ValidationError):
            parse_expression(text, FIELD)
    monkeypatch.undo()
    assert called == []


def test_nesting_is_refused_at_the_limit_before_recursion_gets_deep():
    assert parse_expression("(" * MAX_DEPTH + "close" + ")" * MAX_DEPTH + " > 1", FIELD)
    violation = refusal("(" * (MAX_DEPTH + 1) + "close" + ")" * (MAX_DEPTH + 1) + " > 1")
    assert (violation.problem, violation.offset) == ("limit", MAX_DEPTH)
    for deep in ("(" * 2000 + "1" + ")" * 2000, "-" * 4000 + "1", "not " * 1000 + "close > 1", "abs(" * 1000 + "1"):
        assert refusal(deep).problem == "limit"


def test_five_thousand_levels_and_a_mebibyte_are_refused_in_bounded_time_and_memory():
    texts = ["(" * 5000 + "close" + ")" * 5000, "close + " * (1 << 17) + "1", "x" * (1 << 20)]
    tracemalloc.start()
    began = time.perf_counter()
    for text in texts:
        violation = refusal(text)
        assert violation.problem == "limit" and "longer than 4096 bytes" in violation.description
    elapsed = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 8 << 20  # generous bounds: parsing never starts on these


def test_long_flat_chains_within_the_size_limit_parse_and_evaluate_without_recursion():
    text = "close" + " + close" * 500  # 4 KiB: a 500-deep left-nested tree
    assert len(text) <= 4096
    assert sys.getrecursionlimit() < 2000  # so a recursive evaluator would fail here
    from services.domain.expressions.evaluator import evaluate
    from tests.unit.domain.conftest import bars_from_close

    assert evaluate(parse_expression(text, FIELD), bars_from_close([1.0, 2.0])).tolist() == [501.0, 1002.0]


def test_multibyte_text_counts_bytes():
    text = "close > 1 " + "  " * 2040 + "é" * 5
    assert len(text) < 4096 < len(text.encode())
    assert refusal(text).problem == "limit"


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300) | st.text(alphabet="()+-*/<>=!$ ,.'\"_0123456789abcdeilmnorstuvwxyzACS", max_size=120))
def test_arbitrary_text_is_parsed_or_refused_with_a_validation_error(text):
    try:
        parse_expression(text, FIELD)
    except ValidationError as exc:
        assert all(v.field == FIELD for v in exc.violations)
