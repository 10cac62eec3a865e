"""The engines' input checks refuse exactly what their numpy definitions refuse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.adapters.engines._inputs import _finite_and_positive, check_bars, check_signal
from services.domain.errors import ValidationError

BAD_PRICES = [np.nan, np.inf, -np.inf, 0.0, -0.0, -1.5]


def _bars(close: np.ndarray) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(close), freq="min")
    return pd.DataFrame({c: close for c in ("open", "high", "low", "close", "volume")}, index=index)


@pytest.mark.parametrize("bad", BAD_PRICES)
@pytest.mark.parametrize("at", [0, 3, 9])
def test_a_price_that_is_not_finite_and_positive_is_refused(bad, at):
    close = np.linspace(1.0, 2.0, 10)
    close[at] = bad
    assert _finite_and_positive(close) == bool(np.isfinite(close).all() and (close > 0).all()) is False
    with pytest.raises(ValidationError, match="finite and positive"):
        check_bars(_bars(close))


def test_finite_positive_prices_pass():
    close = np.array([1e-300, 1.0, 1e300])
    assert _finite_and_positive(close)
    assert _finite_and_positive(np.empty(0))
    check_bars(_bars(close))


@pytest.mark.parametrize(
    ("values", "refused"),
    [
        ([0.0, 1.0, -1.0, np.nan], False),
        ([np.nan, np.nan], False),
        ([1.0 + 1e-10, -1.0 - 1e-10], False),  # within the slack
        ([0.0, 1.1], True),
        ([np.nan, -1.1], True),
        ([np.inf, 0.0], True),
        ([np.nan, -np.inf], True),
    ],
)
def test_a_signal_out_of_range_is_refused_and_nan_is_not(values, refused):
    signal = np.array(values)
    assert bool((np.abs(signal) > 1.0 + 1e-9).any()) is refused  # the numpy definition
    if refused:
        with pytest.raises(ValidationError, match=r"\[-1, 1\]"):
            check_signal(signal, len(signal))
    else:
        check_signal(signal, len(signal))


def test_an_empty_signal_for_no_bars_passes_the_range_check():
    check_signal(np.empty(0), 0)
