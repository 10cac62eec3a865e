"""Model-output series for `series("name")`: as-of alignment to the bars, what a strategy reads, coverage."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from services.domain.errors import ValidationError
from services.domain.expressions.parser import Expression


def align_series(stamps: Iterable, values: Iterable, bar_stamps: Iterable) -> np.ndarray:
    """The series as of each bar: the latest value stamped at or before the bar, NaN before the first.

    stamps: the values' timestamps (any order; for equal stamps the last given wins).
    values: the numbers, one per stamp.
    bar_stamps: the bars' timestamps, ascending (a DatetimeIndex).
    Stamps and bars must be alike in time zone (the platform's are tz-naive UTC).
    """
    stamps = pd.DatetimeIndex(stamps)
    bar_stamps = pd.DatetimeIndex(bar_stamps)
    values = np.asarray(values, dtype=float)
    if values.shape != (len(stamps),):
        raise ValueError(f"{len(stamps)} stamps but {values.size} values")
    if len(stamps) == 0:
        return np.full(len(bar_stamps), np.nan)
    order = np.argsort(stamps.asi8, kind="stable")
    sorted_stamps, sorted_values = stamps.asi8[order], values[order]
    # side="right": a value stamped exactly at a bar is known at that bar's close.
    latest = np.searchsorted(sorted_stamps, bar_stamps.asi8, side="right") - 1
    return np.where(latest >= 0, sorted_values[np.maximum(latest, 0)], np.nan)


def referenced_series(expressions: Iterable[Expression]) -> list[str]:
    """Names of every series("name") the expressions read, sorted (what the executor must load)."""
    return sorted({name for expression in expressions for name in expression.series})


def check_coverage(name: str, stamps: Iterable, bar_stamps: Iterable, *, field: str = "series") -> None:
    """Raise ValidationError naming `field`, the series and the gap when it does not cover the bars.

    A series covers the bars when it has a value stamped at or before the first bar, and its last
    value is no older at the last bar than the series' median spacing (a series of one value, or
    whose stamps all coincide, never goes stale).
    name: the series' name, for the message.
    stamps: its timestamps.
    bar_stamps: the run's bar timestamps, ascending.
    """
    bars = pd.DatetimeIndex(bar_stamps)
    stamps = pd.DatetimeIndex(stamps).sort_values()
    if len(bars) == 0:
        return
    first_bar, last_bar = bars[0], bars[-1]
    if len(stamps) == 0:
        raise ValidationError.single(field, f"series {name!r} has no values; the run needs {first_bar} .. {last_bar}")
    if stamps[0] > first_bar:
        uncovered = bars[bars < stamps[0]]
        raise ValidationError.single(
            field,
            f"series {name!r} starts at {stamps[0]}, after the run's first bar: no value for the"
            f" {len(uncovered)} bars {uncovered[0]} .. {uncovered[-1]}",
        )
    spacing = pd.Series(stamps).diff().median() if len(stamps) > 1 else pd.NaT
    if pd.notna(spacing) and spacing > pd.Timedelta(0) and last_bar - stamps[-1] > spacing:
        stale = bars[bars > stamps[-1] + spacing]
        raise ValidationError.single(
            field,
            f"series {name!r} ends at {stamps[-1]} (a value every {spacing} or so), before the run's last bar:"
            f" no fresh value for the {len(stale)} bars {stale[0]} .. {stale[-1]}",
        )
