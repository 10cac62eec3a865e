"""Entry and exit conditions to a target exposure, vectorised.

The rule is vectorbt's `from_signals` with its default conflict handling:
an entry and an exit of one side on the same bar cancel each other, a long
and a short entry on the same bar cancel each other, an entry of the other
side reverses the position, and an exit only closes a position of its own
side. Each entry starts a segment holding its side; the segment's position
is that side until the first exit of the same side after it, then flat.
Every step is a whole-array operation (cumulative sums and forward fills).
"""

from __future__ import annotations

import numpy as np


def forward_fill(values: np.ndarray, known: np.ndarray, initial: float = np.nan) -> np.ndarray:
    """Each bar's value of the last bar at or before it where `known` holds; `initial` before the first."""
    last = np.where(known, np.arange(len(values)), -1)
    np.maximum.accumulate(last, out=last)
    return np.where(last >= 0, values[np.maximum(last, 0)], initial)


def entries_to_exposure(
    entry: np.ndarray,
    exit: np.ndarray,
    short_entry: np.ndarray | None = None,
    short_exit: np.ndarray | None = None,
) -> np.ndarray:
    """Target exposure (+1 long, -1 short, 0 flat) from boolean entry/exit arrays of one length.

    entry, exit: open and close a long position.
    short_entry, short_exit: open and close a short one; None for a long-only rule.
    """
    long_in, long_out = entry & ~exit, exit & ~entry
    if short_entry is None or short_exit is None:
        short_in = short_out = np.zeros_like(long_in)
    else:
        short_in, short_out = short_entry & ~short_exit, short_exit & ~short_entry
        both = long_in & short_in
        long_in, short_in = long_in & ~both, short_in & ~both
    starts = long_in | short_in
    side = forward_fill(np.where(long_in, 1.0, -1.0), starts, 0.0)
    closing = ((side > 0) & long_out) | ((side < 0) & short_out)
    closed = np.cumsum(closing)
    closed_at_start = forward_fill(closed, starts, 0)
    # An exit on a segment's own first bar is impossible (it cancelled the entry), so any
    # count above the one at the segment's start is an exit inside the segment.
    return np.where(closed > closed_at_start, 0.0, side)


def actions_to_exposure(action: np.ndarray, hold: bool) -> np.ndarray:
    """Target exposure from per-bar actions (+1 buy, -1 sell or short, 0 flat, NaN keep).

    hold: keep each action's exposure until the next action (discrete); otherwise a bar
        without an action is flat (numeric).
    """
    if not hold:
        return np.nan_to_num(action, nan=0.0)
    return forward_fill(action, ~np.isnan(action), 0.0)
