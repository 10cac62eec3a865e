"""Entries and exits to exposure: the vectorised rule against a bar-by-bar reference and against vectorbt."""

from __future__ import annotations

import numpy as np
import pandas as pd
import vectorbt as vbt
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from services.domain.expressions.positions import actions_to_exposure, entries_to_exposure

T, F = True, False


def reference(entry, exit, short_entry=None, short_exit=None):
    """vectorbt from_signals' default rules, one bar at a time."""
    position, out = 0.0, []
    shorts = short_entry is not None
    for i in range(len(entry)):
        le, lx = bool(entry[i]), bool(exit[i])
        se, sx = (bool(short_entry[i]), bool(short_exit[i])) if shorts else (False, False)
        if le and lx:
            le = lx = False
        if se and sx:
            se = sx = False
        if le and se:
            le = se = False
        if le:
            position = 1.0
        elif se:
            position = -1.0
        elif lx and position > 0 or sx and position < 0:
            position = 0.0
        out.append(position)
    return np.array(out)


def test_by_hand():
    entry = np.array([T, F, F, T, F, T, F, F, F, F])
    exit_ = np.array([F, F, T, T, F, F, T, F, F, F])
    short_entry = np.array([F, F, F, F, T, F, F, F, T, F])
    short_exit = np.array([F, F, F, F, F, F, F, T, F, T])
    # bar 3: entry and exit together change nothing; long-only ignores the short side
    assert entries_to_exposure(entry, exit_).tolist() == [1, 1, 0, 0, 0, 1, 0, 0, 0, 0]
    # bar 4 goes short, bar 5's entry reverses it, bar 7's short exit finds no short
    assert entries_to_exposure(entry, exit_, short_entry, short_exit).tolist() == [1, 1, 0, 0, -1, 1, 0, 0, -1, 0]


SIGNALS = st.integers(1, 60).flatmap(lambda n: st.tuples(*[arrays(bool, n) for _ in range(4)]))


@settings(max_examples=300, deadline=None)
@given(SIGNALS, st.booleans())
def test_equals_the_bar_by_bar_rule(signals, shorts):
    entry, exit_, short_entry, short_exit = signals
    args = (entry, exit_, short_entry, short_exit) if shorts else (entry, exit_)
    np.testing.assert_array_equal(entries_to_exposure(*args), reference(*args))


@settings(max_examples=40, deadline=None)
@given(SIGNALS)
def test_equals_vectorbt_from_signals_position_sides(signals):
    entry, exit_, short_entry, short_exit = signals
    close = pd.Series(np.linspace(10.0, 11.0, len(entry)))
    portfolio = vbt.Portfolio.from_signals(
        close, entry, exit_, short_entries=short_entry, short_exits=short_exit, size=1.0, init_cash=1e9
    )
    sides = np.sign(portfolio.assets().to_numpy())
    np.testing.assert_array_equal(entries_to_exposure(entry, exit_, short_entry, short_exit), sides)


def test_actions_hold_or_not():
    action = np.array([np.nan, 1.0, np.nan, -1.0, np.nan, 0.0, np.nan])
    assert actions_to_exposure(action, hold=True).tolist() == [0, 1, 1, -1, -1, 0, 0]
    assert actions_to_exposure(action, hold=False).tolist() == [0, 1, 0, -1, 0, 0, 0]
