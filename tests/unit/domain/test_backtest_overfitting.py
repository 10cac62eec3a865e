"""PBO by CSCV against a case enumerated by hand and a loop-by-loop reference written here."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from services.domain.backtest_overfitting import probability_of_backtest_overfitting

H = 1 / 64  # a power of two: every sum below is exact, so equal Sharpe ratios tie exactly

# T = 8 bars, N = 3 configurations, S = 4 blocks of 2 bars. Within a block a
# configuration returns the same value twice; in units of H:
#        b0 b1 b2 b3
#   A:    1  2  3  5
#   B:    5  3  2  1
#   C:    2  4  1  3
# Over two blocks the returns are m1, m1, m2, m2: mean (m1 + m2) / 2, sum of
# squared deviations (m1 - m2)^2, std (ddof=1) |m1 - m2| / sqrt(3), so
# Sharpe = sqrt(3) / 2 * q with q = (m1 + m2) / |m1 - m2|. q per block pair:
#        01    02     03    12     13     23
#   A:   3     2      1.5   5      7/3    4
#   B:   4     7/3    1.5   5      2      3
#   C:   3     3      5     5/3    7      2
# The C(4, 2) = 6 combinations (IS blocks; OOS = the other two), OOS rank 1 = worst:
#   1. IS 01: A 3, B 4, C 3 -> B. OOS 23: A 4, B 3, C 2 -> B ranks 2: w = 2/4, lambda = ln(1) = 0
#   2. IS 02: A 2, B 7/3, C 3 -> C. OOS 13: A 7/3, B 2, C 7 -> C ranks 3: w = 3/4, lambda = ln 3
#   3. IS 03: A 1.5, B 1.5, C 5 -> C. OOS 12: A 5, B 5, C 5/3 -> C ranks 1: w = 1/4, lambda = -ln 3
#   4. IS 12: A 5, B 5, C 5/3 -> A and B tie, the first column wins: A. OOS 03: A 1.5, B 1.5, C 5:
#      A and B share ranks 1 and 2 -> 1.5: w = 1.5/4, lambda = ln(0.375 / 0.625) = ln 0.6
#   5. IS 13: A 7/3, B 2, C 7 -> C. OOS 02: A 2, B 7/3, C 3 -> C ranks 3: lambda = ln 3
#   6. IS 23: A 4, B 3, C 2 -> A. OOS 01: A 3, B 4, C 3 -> A and C share ranks 1 and 2: lambda = ln 0.6
# lambda <= 0 in combinations 1, 3, 4 and 6: PBO = 4/6.
BLOCKS = np.array([[1, 5, 2], [2, 3, 4], [3, 2, 1], [5, 1, 3]], dtype=float) * H
HAND = np.repeat(BLOCKS, 2, axis=0)  # 8 x 3


def test_hand_enumerated_case():
    result = probability_of_backtest_overfitting(HAND, partitions=4)
    assert result.pbo == pytest.approx(4 / 6, abs=1e-15)
    assert result.n_combinations == 6 and result.n_configs == 3 and result.excluded_configs == ()
    ln3, ln06 = math.log(3), math.log(0.6)
    assert result.logits == pytest.approx([0.0, ln3, -ln3, ln06, ln3, ln06], abs=1e-15)
    assert list(result.best_config) == [1, 2, 2, 0, 2, 0]
    half_root3 = math.sqrt(3) / 2
    assert result.is_sharpe == pytest.approx(half_root3 * np.array([4, 3, 5, 5, 7, 4]), rel=1e-14)
    assert result.oos_sharpe == pytest.approx(half_root3 * np.array([3, 7, 5 / 3, 1.5, 3, 3]), rel=1e-14)
    assert result.probability_of_oos_loss == 0.0
    summary = result.summary()
    assert summary["pbo"] == result.pbo and summary["n_combinations"] == 6
    assert summary["logits"]["median"] == pytest.approx(0.5 * (ln06 + 0.0))  # sorted: -ln3 ln.6 ln.6 0 ln3 ln3
    assert summary["logits"]["mean"] == pytest.approx((ln3 + 2 * ln06) / 6)


def reference(returns, partitions):
    """Bailey et al. 2015, one combination at a time: concatenate the blocks, np.std, scipy's midranks."""
    usable = [j for j in range(returns.shape[1]) if np.isfinite(returns[:, j]).all()]
    matrix = returns[:, usable].astype(float)
    blocks = np.array_split(np.arange(matrix.shape[0]), partitions)
    n = len(usable)

    def sharpe(rows):
        x = matrix[rows]
        mean, std = x.mean(axis=0), x.std(axis=0, ddof=1)
        out = []
        for m, s, column in zip(mean, std, x.T, strict=True):
            if np.all(column == column[0]):  # constant: 0 when flat at zero, else +-inf
                out.append(0.0 if m == 0 else math.copysign(math.inf, m))
            else:
                out.append(m / s)
        return np.array(out)

    logits, best = [], []
    for chosen in itertools.combinations(range(partitions), partitions // 2):
        in_rows = np.concatenate([blocks[b] for b in chosen])
        out_rows = np.concatenate([blocks[b] for b in range(partitions) if b not in chosen])
        winner = int(np.argmax(sharpe(in_rows)))
        rank = stats.rankdata(sharpe(out_rows), method="average")[winner]
        w = rank / (n + 1)
        logits.append(math.log(w / (1 - w)))
        best.append(usable[winner])
    logits = np.array(logits)
    return float(np.mean(logits <= 1e-12)), logits, best


@pytest.mark.parametrize("seed", range(12))
def test_matches_the_reference_on_random_matrices(seed):
    rng = np.random.default_rng(seed)
    partitions = int(rng.choice([2, 4, 6, 8]))
    t = int(rng.integers(partitions * 3, 200))  # often not a multiple of S
    n = int(rng.integers(2, 30))
    returns = rng.normal(0.0005, 0.01, (t, n)) + rng.normal(0, 0.0005, n)
    if n > 3:
        returns[:, 1] = returns[:, 0]  # a duplicate configuration: exact OOS ties
        returns[:, 2] = 0.0  # never in the market
        returns[rng.integers(t), 3] = np.nan  # a failed run
    result = probability_of_backtest_overfitting(
        returns, partitions=partitions, chunk_elements=int(rng.integers(1, 500))
    )
    pbo, logits, best = reference(returns, partitions)
    assert result.pbo == pbo
    assert result.logits == pytest.approx(logits, abs=1e-12)
    assert list(result.best_config) == best
    assert result.excluded_configs == ((3,) if n > 3 else ())


def test_chunking_and_float32_do_not_change_the_answer():
    rng = np.random.default_rng(5)
    returns = rng.normal(0, 0.01, (320, 57)).astype(np.float32)
    whole = probability_of_backtest_overfitting(returns, partitions=8)
    for chunk in (1, 57, 10_000):
        part = probability_of_backtest_overfitting(returns, partitions=8, chunk_elements=chunk)
        assert np.array_equal(part.logits, whole.logits) and part.pbo == whole.pbo
    as64 = probability_of_backtest_overfitting(returns.astype(np.float64), partitions=8)
    assert np.array_equal(as64.logits, whole.logits)


def test_a_real_edge_is_not_overfit_and_pure_luck_is():
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 0.01, (480, 40))
    edge = noise.copy()
    edge[:, 7] += 0.01  # per-bar Sharpe about 1 against about 0 for the rest
    result = probability_of_backtest_overfitting(edge)
    assert result.pbo == 0.0 and set(result.best_config) == {7}
    assert result.logits == pytest.approx(np.full(12_870, math.log(40)))
    # Forty equal coin-flippers: the IS winner is at or below the OOS median about half the time.
    assert 0.3 < probability_of_backtest_overfitting(noise).pbo < 0.7


def test_inputs_it_cannot_split():
    rng = np.random.default_rng(1)
    assert probability_of_backtest_overfitting(rng.normal(size=(15, 4))) is None  # T < S = 16
    one_usable = rng.normal(size=(64, 3))
    one_usable[0, 1] = one_usable[5, 2] = np.inf
    assert probability_of_backtest_overfitting(one_usable) is None
    for partitions in (3, 0, 2.0, True):
        with pytest.raises(ValueError, match="partitions"):
            probability_of_backtest_overfitting(rng.normal(size=(64, 3)), partitions=partitions)
    with pytest.raises(ValueError, match="T x N"):
        probability_of_backtest_overfitting(rng.normal(size=64))


def _numpy_sharpe(total, squares, size):
    """The numpy expressions the compiled kernel replaced (services.domain.cscv_kernel), kept as its reference."""
    n = size[:, None]
    mean = total / n
    deviations = squares - total * mean
    constant = deviations <= 1e-10 * squares
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = mean / np.sqrt(deviations / (n - 1))
    return np.where(constant, np.where(mean > 0, np.inf, np.where(mean < 0, -np.inf, 0.0)), sharpe)


def _numpy_cross_validation(sums, squares, sizes):
    """(logits, best, IS Sharpe, OOS Sharpe) per combination as the numpy code before the kernel computed them."""
    partitions, n_configs = sums.shape
    combinations = list(itertools.combinations(range(partitions), partitions // 2))
    out = {name: [] for name in ("logits", "best", "is", "oos")}
    total_sum, total_squares, total_size = sums.sum(axis=0), squares.sum(axis=0), sizes.sum()
    for combination in combinations:
        chosen = np.zeros((1, partitions))
        chosen[0, list(combination)] = 1.0
        size_a, sum_a, squares_a = chosen @ sizes, chosen @ sums, chosen @ squares
        in_sample = _numpy_sharpe(sum_a, squares_a, size_a)[0]
        out_of_sample = _numpy_sharpe(total_sum - sum_a, total_squares - squares_a, total_size - size_a)[0]
        winner = int(np.argmax(in_sample))
        oos = out_of_sample[winner]
        rank = np.count_nonzero(out_of_sample < oos) + (np.count_nonzero(out_of_sample == oos) + 1) / 2.0
        out["logits"].append(np.log(rank / (n_configs + 1 - rank)))
        out["best"].append(winner)
        out["is"].append(in_sample[winner])
        out["oos"].append(oos)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_the_compiled_pass_is_the_numpy_expressions_bit_for_bit(seed):
    from services.domain.backtest_overfitting import probability_of_backtest_overfitting_from_blocks

    rng = np.random.default_rng(seed)
    partitions = int(rng.choice([4, 8, 16]))
    n = int(rng.integers(5, 400))
    sums = rng.normal(0.002, 0.05, (partitions, n))
    squares = sums**2 + rng.uniform(0.0, 0.01, (partitions, n))
    sums[:, 1], squares[:, 1] = sums[:, 0], squares[:, 0]  # exact ties
    sums[:, 2] = squares[:, 2] = 0.0  # never in the market: Sharpe 0 everywhere
    sums[:, 3] = 0.001  # constant positive returns: +inf
    squares[:, 3] = sums[:, 3] ** 2 / 10
    sums[:, 4] = -0.001  # constant negative returns: -inf
    squares[:, 4] = sums[:, 4] ** 2 / 10
    sizes = np.full(partitions, 10.0)
    result = probability_of_backtest_overfitting_from_blocks(
        sums, squares, sizes, chunk_elements=int(rng.integers(1, 5000))
    )
    expected = _numpy_cross_validation(sums, squares, sizes)
    assert np.array_equal(result.logits, np.array(expected["logits"]))
    assert np.array_equal(result.best_config, np.array(expected["best"]))
    assert np.array_equal(result.is_sharpe, np.array(expected["is"]))
    assert np.array_equal(result.oos_sharpe, np.array(expected["oos"]))
