"""No look-ahead, property-based: cutting the bars (or a series) after bar t never changes an exposure at or before t.

Random expressions and rule trees come from the grammar (strategies.py);
every generated window is at most MAX_WINDOW bars, so every cut keeps enough bars.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.domain.expressions.evaluator import Evaluation
from services.domain.expressions.parser import parse_expression
from services.domain.expressions.rule_tree import parse_rule_tree
from services.domain.expressions.series import align_series
from services.domain.signals import SignalContext, get_plugin
from tests.unit.domain.conftest import random_bars

from .strategies import BARS, MAX_WINDOW, PARAMS, RULE_TREES, conditions, model_series, numbers

PLUGIN = get_plugin("expression")
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _used(params: dict, *texts: str) -> dict:
    return {k: v for k, v in params.items() if any(f"${k}" in text for text in texts)}


def _context(bars, seed: int, cut: int | None = None) -> SignalContext:
    stamps, values = model_series(bars if cut is None else bars, seed)
    bar_stamps = bars.index if cut is None else bars.index[: cut + 1]
    if cut is not None:  # the series as it was known at bar `cut`: nothing stamped later
        keep = stamps <= bar_stamps[-1].to_datetime64()
        stamps, values = stamps[keep], values[keep]
    return SignalContext(allow_short=True, series={"model": align_series(stamps, values, bar_stamps)})


def _assert_causal(compute, bars, cut_at: int, seed: int) -> None:
    full = compute(bars, _context(bars, seed))
    t = cut_at  # bars are at least 40 long: there is always a future to cut
    cut = compute(bars.iloc[: t + 1], _context(bars, seed, cut=t))
    np.testing.assert_array_equal(cut, full[: t + 1])
    changed = bars.copy()
    future = random_bars(len(bars) - t - 1, seed=seed + 1)
    changed.iloc[t + 1 :] = future.to_numpy()
    np.testing.assert_array_equal(compute(changed, _context(changed, seed, cut=None))[: t + 1], full[: t + 1])


@SETTINGS
@given(
    bars=BARS,
    entry=conditions(2),
    exit=conditions(2),
    short=st.tuples(conditions(1), conditions(1)),
    params=PARAMS,
    cut=st.integers(MAX_WINDOW, 38),
    seed=st.integers(0, 1000),
)
def test_entry_exit_expressions_never_look_ahead(bars, entry, exit, short, params, cut, seed):
    spec = {"entry": entry, "exit": exit, "short_entry": short[0], "short_exit": short[1]}
    spec.update(_used(params, *spec.values()))
    _assert_causal(lambda b, ctx: PLUGIN.compute(b, spec, context=ctx), bars, cut, seed)


@SETTINGS
@given(bars=BARS, exposure=numbers(3), params=PARAMS, cut=st.integers(MAX_WINDOW, 38), seed=st.integers(0, 1000))
def test_exposure_expressions_never_look_ahead(bars, exposure, params, cut, seed):
    spec = {"exposure": exposure, **_used(params, exposure)}
    _assert_causal(lambda b, ctx: PLUGIN.compute(b, spec, context=ctx), bars, cut, seed)


@SETTINGS
@given(
    bars=BARS,
    tree=RULE_TREES,
    mode=st.sampled_from(["long_only", "long_short"]),
    output=st.sampled_from(["discrete", "numeric"]),
    params=PARAMS,
    cut=st.integers(MAX_WINDOW, 38),
    seed=st.integers(0, 1000),
)
def test_rule_trees_never_look_ahead(bars, tree, mode, output, params, cut, seed):
    parsed = parse_rule_tree(tree, position_mode=mode, output_mode=output)
    values = parsed.check_params(_used(params, *(e.text for e, _ in parsed.expressions)), "p")
    _assert_causal(lambda b, ctx: parsed.exposure(b, values, series=ctx.series), bars, cut, seed)


@SETTINGS
@given(bars=BARS, seed=st.integers(0, 1000), cut=st.integers(0, 38))
def test_series_alignment_uses_no_value_stamped_after_the_bar(bars, seed, cut):
    stamps, values = model_series(bars, seed)
    aligned = align_series(stamps, values, bars.index)
    t = cut
    known = stamps <= bars.index[t].to_datetime64()
    np.testing.assert_array_equal(align_series(stamps[known], values[known], bars.index[: t + 1]), aligned[: t + 1])


@SETTINGS
@given(
    bars=BARS,
    text=numbers(3) | conditions(3),
    params=PARAMS,
    cut=st.integers(MAX_WINDOW, 38),
    seed=st.integers(0, 1000),
)
def test_expression_values_never_look_ahead(bars, text, params, cut, seed):
    """The raw values, before any clipping to an exposure, NaN where NaN."""
    expression = parse_expression(text, "x")

    def values(b, ctx):
        return Evaluation(b, ctx.series).evaluate([(expression, "x")], params)[0]

    _assert_causal(values, bars, cut, seed)
