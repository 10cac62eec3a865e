"""backtrader adapter on hand-checked cases."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.engines.hand_cases import HandChecks, spec


class TestBacktraderHandChecks(HandChecks):
    @pytest.fixture
    def engine(self, backtrader_engine):
        return backtrader_engine


def test_slipped_fill_outside_the_bar_is_not_clipped_to_its_range(backtrader_engine, hand_bars):
    # hand_bars' high is the close, so a buy at close * 1.01 lies above the bar;
    # backtrader's default slip_out=False would fill at the high instead.
    r = backtrader_engine.run(hand_bars, np.array([0, 1, 1, 1, 1, 1.0]), spec())
    assert r.trades[0].entry_price == pytest.approx(11.5 * 1.01)
    assert r.trades[0].entry_price > hand_bars["high"].iloc[1]
