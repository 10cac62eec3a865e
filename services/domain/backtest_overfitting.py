"""The probability of backtest overfitting (PBO) of a search.

By combinatorially symmetric cross-validation (Bailey, Borwein, Lopez de Prado and Zhu, 2015).

The T x N matrix of per-bar returns (one column per configuration, rows the
same bars for every column) is cut into S blocks of consecutive rows
(numpy.array_split: sizes differ by at most one row when S does not divide
T). For each of the C(S, S/2) ways to choose S/2 blocks, the chosen blocks
are in-sample (IS) and the others out-of-sample (OOS). The configuration
with the best IS Sharpe ratio, n*, gets its OOS rank among all N (1 =
worst, midranks for ties), w = rank / (N + 1) and the logit
lambda = ln(w / (1 - w)). PBO is the fraction of combinations with
lambda <= 0: how often the IS winner is at or below the OOS median.

Conventions:
- Sharpe ratio = mean / std (ddof=1) of the rows of a block set, per bar;
  pass excess returns to rank as perf_sharpe_ratio does. A column that is
  constant over a block set has Sharpe 0 when it is all zero, +inf or -inf
  by the sign of its mean otherwise (a never-trading run over excess
  returns loses the risk-free rate with certainty: -inf, the worst rank).
- An IS tie goes to the lowest column (numpy.argmax); OOS ties share the
  mean of their ranks, so identical configurations rank alike.
- A column with any non-finite value (a failed run) takes no part: it is
  listed in excluded_configs, and N counts the other columns.
- Each combination's block set and its complement are one pair: the Sharpe
  ratios of both come from per-block sums and sums of squares, so every
  pair costs two (k x S) @ (S x N) products, computed in chunks of pairs to
  bound memory; the Sharpe ratios, winners and ranks from them are one
  compiled pass per pair (services/domain/cscv_kernel.py).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_PARTITIONS = 16
# Bound on the elements of each (pairs x configurations) array of a chunk: 8 MB of float64.
CHUNK_ELEMENTS = 1_000_000
# A sum of squared deviations this small next to the sum of squares is round-off of a constant series.
ROUND_OFF = 1e-10


@dataclass(frozen=True)
class BacktestOverfitting:
    """The outcome of combinatorially symmetric cross-validation.

    Arrays hold one value per combination, in itertools.combinations order
    of the IS blocks: logits (lambda), best_config (column of the IS winner,
    as indexed in the input), is_sharpe and oos_sharpe (the winner's per-bar
    Sharpe ratios IS and OOS).
    """

    pbo: float
    partitions: int
    n_configs: int
    excluded_configs: tuple[int, ...]
    logits: np.ndarray
    best_config: np.ndarray
    is_sharpe: np.ndarray
    oos_sharpe: np.ndarray

    @property
    def n_combinations(self) -> int:
        """C(S, S/2)."""
        return int(self.logits.size)

    @property
    def probability_of_oos_loss(self) -> float:
        """Fraction of combinations whose IS winner has a negative OOS Sharpe ratio."""
        return float(np.mean(self.oos_sharpe < 0))

    def logit_summary(self) -> dict[str, float]:
        """Mean, population std, min, 5/25/50/75/95% quantiles (linear interpolation) and max of the logits."""
        quantiles = np.quantile(self.logits, [0.05, 0.25, 0.5, 0.75, 0.95])
        names = ("q05", "q25", "median", "q75", "q95")
        return {
            "mean": float(self.logits.mean()),
            "std": float(self.logits.std()),
            "min": float(self.logits.min()),
            **{name: float(q) for name, q in zip(names, quantiles, strict=True)},
            "max": float(self.logits.max()),
        }

    def summary(self) -> dict[str, Any]:
        """The JSON-able figures a search's result carries (no per-combination arrays)."""
        return {
            "pbo": self.pbo,
            "partitions": self.partitions,
            "n_combinations": self.n_combinations,
            "n_configs": self.n_configs,
            "excluded_configs": len(self.excluded_configs),
            "probability_of_oos_loss": self.probability_of_oos_loss,
            "logits": self.logit_summary(),
        }


def probability_of_backtest_overfitting(
    returns: ArrayLike, *, partitions: int = DEFAULT_PARTITIONS, chunk_elements: int = CHUNK_ELEMENTS
) -> BacktestOverfitting | None:
    """PBO of the configurations whose per-bar returns are the columns of `returns`.

    returns: T x N per-bar returns, rows the same bars for every column
    (float32 or float64; sums are taken in float64). partitions: S, even and
    >= 2. chunk_elements: bound on pairs x configurations per chunk.
    Returns None when the data cannot be split: T < S, or fewer than two
    columns without a non-finite value. Raises ValueError for a matrix that
    is not 2-D or a bad S.
    """
    matrix = np.asarray(returns)
    if matrix.ndim != 2:
        raise ValueError(f"returns must be a T x N matrix, got {matrix.ndim} dimension(s)")
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 2 or partitions % 2:
        raise ValueError(f"partitions must be an even integer >= 2, got {partitions!r}")
    if matrix.shape[0] < partitions:
        return None
    sums, squares, sizes, _ = _block_moments(matrix, partitions)
    return probability_of_backtest_overfitting_from_blocks(sums, squares, sizes, chunk_elements=chunk_elements)


def block_sizes(n_returns: int, partitions: int = DEFAULT_PARTITIONS) -> list[int]:
    """Rows of each of the `partitions` blocks of `n_returns` rows, as numpy.array_split cuts them."""
    base, extra = divmod(n_returns, partitions)
    return [base + 1] * extra + [base] * (partitions - extra)


def _block_starts(n_returns: int, partitions: int) -> np.ndarray:
    """Where each of block_sizes' blocks starts: the indices reduceat sums from."""
    return np.concatenate(([0], np.cumsum(block_sizes(n_returns, partitions))[:-1]))


def return_blocks(returns: ArrayLike, partitions: int = DEFAULT_PARTITIONS) -> tuple[list[float], list[float]] | None:
    """(per-block sums, per-block sums of squares) of one run's per-bar returns; None when T < partitions.

    What an executor reports with each run, so a search's PBO needs S x 2
    numbers per run rather than its whole return series: the blocks of
    every run of a search that shares its bars line up, and CSCV only ever
    reads per-block sums (see the module docstring).
    """
    series = np.asarray(returns, dtype=np.float64).ravel()
    if series.size < partitions:
        return None
    # One reduceat per sum over array_split's block starts: a loop of 16 blocks cost 0.6 ms a run.
    starts = _block_starts(series.size, partitions)
    return np.add.reduceat(series, starts).tolist(), np.add.reduceat(series * series, starts).tolist()


def return_blocks_many(
    returns: np.ndarray, partitions: int = DEFAULT_PARTITIONS
) -> list[tuple[list[float], list[float]]] | None:
    """`return_blocks` of each row of `returns` (runs x bars, float64), bit for bit; None when T < partitions.

    One reduceat along the rows sums each row's blocks as reduceat sums one series.
    """
    if returns.shape[1] < partitions:
        return None
    starts = _block_starts(returns.shape[1], partitions)
    sums, squares = np.add.reduceat(returns, starts, axis=1), np.add.reduceat(returns * returns, starts, axis=1)
    return list(zip(sums.tolist(), squares.tolist(), strict=True))


def probability_of_backtest_overfitting_from_blocks(
    sums: ArrayLike, squares: ArrayLike, sizes: ArrayLike, *, chunk_elements: int = CHUNK_ELEMENTS
) -> BacktestOverfitting | None:
    """PBO from per-block moments: what probability_of_backtest_overfitting computes from the full matrix.

    sums, squares: S x N per-block sums and sums of squares of each
    configuration's per-bar returns (a column with a non-finite value is
    excluded, as a failed run). sizes: the S block sizes, shared by every
    column. Returns None with fewer than two usable columns. Raises
    ValueError for mismatched shapes or a bad S.
    """
    sums, squares = np.asarray(sums, dtype=np.float64), np.asarray(squares, dtype=np.float64)
    sizes = np.asarray(sizes, dtype=np.float64)
    if sums.ndim != 2 or squares.shape != sums.shape or sizes.shape != (sums.shape[0],):
        shapes = f"{sums.shape}, {squares.shape}, {sizes.shape}"
        raise ValueError(f"sums and squares must be S x N and sizes S, got {shapes}")
    partitions = sums.shape[0]
    if partitions < 2 or partitions % 2:
        raise ValueError(f"partitions must be an even integer >= 2, got {partitions!r}")
    usable = np.flatnonzero(np.isfinite(sums).all(axis=0) & np.isfinite(squares).all(axis=0))
    if usable.size < 2:
        return None
    excluded = np.setdiff1d(np.arange(sums.shape[1]), usable)
    outcome = _cross_validate(sums[:, usable], squares[:, usable], sizes, chunk_elements)
    logits, best, is_sharpe, oos_sharpe, at_or_below_median = outcome
    return BacktestOverfitting(
        pbo=float(at_or_below_median.mean()),
        partitions=partitions,
        n_configs=int(usable.size),
        excluded_configs=tuple(int(i) for i in excluded),
        logits=logits,
        best_config=usable[best],
        is_sharpe=is_sharpe,
        oos_sharpe=oos_sharpe,
    )


def warm_up() -> None:
    """Loads the compiled CSCV kernel (compiling it into numba's cache the first time): 0.4 s a process pays once.

    A catalog calls it on a thread of its own as it starts
    (services.catalog.execution.grid_search.warm_statistics), so that a
    search's last report does not pay it on top of the PBO.
    """
    rng = np.random.default_rng(0)
    sums = rng.normal(size=(DEFAULT_PARTITIONS, 3))
    probability_of_backtest_overfitting_from_blocks(sums, sums**2 + 1.0, np.full(DEFAULT_PARTITIONS, 4.0))


def _block_moments(matrix: np.ndarray, partitions: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-block column sums and sums of squares (S x N), block sizes, and the usable columns."""
    n_configs = matrix.shape[1]
    sums = np.empty((partitions, n_configs))
    squares = np.empty((partitions, n_configs))
    finite = np.ones(n_configs, dtype=bool)
    # numpy.array_split's sizes: the first T mod S blocks take one row more.
    sizes = block_sizes(matrix.shape[0], partitions)
    start = 0
    for block, size in enumerate(sizes):
        # One block at a time: a float64 copy of the whole matrix would double the input's memory.
        rows = np.asarray(matrix[start : start + size], dtype=np.float64)
        finite &= np.isfinite(rows).all(axis=0)
        sums[block] = rows.sum(axis=0)
        squares[block] = np.einsum("ij,ij->j", rows, rows)
        start += size
    return sums, squares, np.asarray(sizes, dtype=np.float64), np.flatnonzero(finite)


def _cross_validate(
    sums: np.ndarray, squares: np.ndarray, sizes: np.ndarray, chunk_elements: int
) -> tuple[np.ndarray, ...]:
    from services.domain.cscv_kernel import winners_and_ranks  # numba: loaded only where PBO computes

    partitions, n_configs = sums.shape
    combinations = list(itertools.combinations(range(partitions), partitions // 2))
    position = {_mask(c): i for i, c in enumerate(combinations)}
    # In lexicographic order the combinations holding block 0 come first, and
    # their complements are exactly the others: one pass over the first half
    # covers every combination, as IS set and as the complement's OOS set.
    half = len(combinations) // 2
    indicator = np.zeros((half, partitions))
    for i, combination in enumerate(combinations[:half]):
        indicator[i, list(combination)] = 1.0
    complement = np.array([position[(1 << partitions) - 1 - _mask(c)] for c in combinations[:half]])
    logits = np.empty(len(combinations))
    best = np.empty(len(combinations), dtype=np.int64)
    is_sharpe = np.empty(len(combinations))
    oos_sharpe = np.empty(len(combinations))
    at_or_below_median = np.empty(len(combinations), dtype=bool)
    total_sum, total_squares, total_size = sums.sum(axis=0), squares.sum(axis=0), float(sizes.sum())
    # Per direction (0: the chosen set in sample, 1: its complement) and pair.
    winner = np.empty((2, half), dtype=np.int64)
    in_sample, out_of_sample = np.empty((2, half)), np.empty((2, half))
    below, tied = np.empty((2, half), dtype=np.int64), np.empty((2, half), dtype=np.int64)
    step = max(1, chunk_elements // n_configs)
    for lo in range(0, half, step):
        chosen = indicator[lo : lo + step]
        rows = np.arange(chosen.shape[0])  # the chunk's pairs, indexing its slices of the outputs
        # The products stay numpy's (BLAS sums in its own order); the Sharpe ratios, winners and
        # ranks after them are the kernel's (services.domain.cscv_kernel), bit for bit numpy's.
        sum_a, squares_a = np.ascontiguousarray(chosen @ sums), np.ascontiguousarray(chosen @ squares)
        outputs = (winner[:, lo:], in_sample[:, lo:], out_of_sample[:, lo:], below[:, lo:], tied[:, lo:])
        winners_and_ranks(sum_a, squares_a, chosen @ sizes, total_sum, total_squares, total_size, rows, *outputs)
    rank = below + (tied + 1) / 2.0
    for direction, where in ((0, np.arange(half)), (1, complement)):
        logits[where] = np.log(rank[direction] / (n_configs + 1 - rank[direction]))
        at_or_below_median[where] = 2 * rank[direction] <= n_configs + 1
        best[where] = winner[direction]
        is_sharpe[where] = in_sample[direction]
        oos_sharpe[where] = out_of_sample[direction]
    return logits, best, is_sharpe, oos_sharpe, at_or_below_median


def _mask(combination: tuple[int, ...]) -> int:
    return sum(1 << block for block in combination)
