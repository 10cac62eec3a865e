"""The per-combination work of CSCV in one compiled pass per pair of block sets.

`winners_and_ranks` returns, bit for bit, what backtest_overfitting's numpy
expressions returned for a chunk of block-set pairs: each configuration's
per-bar Sharpe ratio on the chosen blocks (A) and on their complement (B),
with the same single operations in the same order (mean = sum / n,
deviations = squares - sum * mean, a constant series' Sharpe by the sign of
its mean), then per pair and direction the IS winner (numpy.argmax: the
first maximum, or the first NaN) and how many OOS Sharpe ratios are below
and equal to the winner's. numpy made about thirty passes over each
(pairs x configurations) chunk and as many temporaries: 1.2-2 s for 10,000
configurations and 16 blocks, the tail of a grid search after its last run,
with nothing else to do. Here each configuration's two Sharpe ratios are
computed once into two rows and read twice more.

Imported only where PBO is computed (processes that only read metric names
do not load numba). nogil: a caller may share a chunk's rows among threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from services.domain.backtest_overfitting import ROUND_OFF


# error_model numpy: a zero block size divides as numpy does (inf or NaN), it does not raise.
@njit(cache=True, nogil=True, error_model="numpy")
def _sharpe_row(total: np.ndarray, squares: np.ndarray, n: float, out: np.ndarray) -> None:
    """Per-bar Sharpe ratio (ddof=1) of configuration j over one block set into `out[j]`, from its sums.

    The numpy expressions it replaced (kept as the unit test's reference):
    mean = total / n, deviations = squares - total * mean, and a series
    constant over the set (deviations <= ROUND_OFF * squares) +inf, -inf or 0
    by the sign of its mean, else mean / sqrt(deviations / (n - 1)).
    """
    for j in range(total.size):
        mean = total[j] / n
        deviations = squares[j] - total[j] * mean
        if deviations <= ROUND_OFF * squares[j]:
            out[j] = math.inf if mean > 0 else (-math.inf if mean < 0 else 0.0)
        else:
            out[j] = mean / math.sqrt(deviations / (n - 1.0))


@njit(cache=True, nogil=True)
def _argmax(values: np.ndarray) -> int:
    """numpy.argmax of a float row: the first NaN if any, else the first maximum."""
    best = 0
    for j in range(values.size):
        if math.isnan(values[j]):
            return j
        if values[j] > values[best]:
            best = j
    return best


@njit(cache=True, nogil=True)
def _rank_counts(values: np.ndarray, of: float) -> tuple[int, int]:
    """(entries below `of`, entries equal to it): numpy's `<` and `==` counts (NaN is neither)."""
    below = 0
    tied = 0
    for j in range(values.size):
        if values[j] < of:
            below += 1
        elif values[j] == of:
            tied += 1
    return below, tied


@njit(cache=True, nogil=True, error_model="numpy")
def winners_and_ranks(
    sum_a: np.ndarray,
    squares_a: np.ndarray,
    size_a: np.ndarray,
    total_sum: np.ndarray,
    total_squares: np.ndarray,
    total_size: float,
    rows: np.ndarray,
    winner: np.ndarray,
    is_sharpe: np.ndarray,
    oos_sharpe: np.ndarray,
    below: np.ndarray,
    tied: np.ndarray,
) -> None:
    """For the pairs `rows` of a chunk: per direction d (0: A in sample, 1: B), the outputs [d, row].

    sum_a, squares_a: (pairs x configurations) sums over each pair's set A; size_a its rows.
    total_*: the sums over all blocks; B's are the differences, as numpy computed them.
    """
    n_configs = sum_a.shape[1]
    sharpe_a = np.empty(n_configs)
    sharpe_b = np.empty(n_configs)
    rest_sum = np.empty(n_configs)
    rest_squares = np.empty(n_configs)
    for row in rows:
        _sharpe_row(sum_a[row], squares_a[row], size_a[row], sharpe_a)
        for j in range(n_configs):
            rest_sum[j] = total_sum[j] - sum_a[row, j]
            rest_squares[j] = total_squares[j] - squares_a[row, j]
        _sharpe_row(rest_sum, rest_squares, total_size - size_a[row], sharpe_b)
        for direction in range(2):
            in_sample = sharpe_a if direction == 0 else sharpe_b
            out_of_sample = sharpe_b if direction == 0 else sharpe_a
            best = _argmax(in_sample)
            oos = out_of_sample[best]
            counts = _rank_counts(out_of_sample, oos)
            winner[direction, row] = best
            is_sharpe[direction, row] = in_sample[best]
            oos_sharpe[direction, row] = oos
            below[direction, row] = counts[0]
            tied[direction, row] = counts[1]
