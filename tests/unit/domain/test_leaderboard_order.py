"""The columnar leaderboard order agrees with the catalog's rank() on the same entries."""

import math

import numpy as np
import pytest

from services.domain.leaderboard import rank
from services.domain.leaderboard_order import leaderboard_order, metric_column
from services.domain.metric_table import METRICS


def test_by_hand():
    values = [0.1, None, 0.3, math.nan, 0.3, -math.inf, 0.2, 0.3]
    completed = [True, True, True, True, False, True, True, True]
    # completed with a value, best first, ties in input order: 2 (0.3), 7 (0.3), 6, 0;
    # completed without one: 1, 3, 5 (-inf is not a value); then the run that failed: 4
    assert list(leaderboard_order(values, "perf_sharpe_ratio", completed=completed)) == [2, 7, 6, 0, 1, 3, 5, 4]
    assert list(leaderboard_order(values, "risk_max_drawdown", completed=completed)) == [0, 6, 2, 7, 1, 3, 5, 4]
    assert list(leaderboard_order([], "total_return")) == []
    with pytest.raises(ValueError, match="one length"):
        leaderboard_order([1.0, 2.0], "total_return", completed=[True])


def random_entries(rng, n):
    pool = [None, math.nan, math.inf, -0.0, 0.0, 1.5, -2.0, True, "text"]
    entries = []
    for i in range(n):
        status = rng.choice(["completed"] * 6 + ["failed", "running"])
        metrics = {}
        for key in ("perf_sharpe_ratio", "risk_max_drawdown", "trade_total_trades", "my_custom"):
            draw = rng.random()
            if draw < 0.3:
                metrics[key] = pool[int(rng.integers(len(pool)))]  # ties, gaps and oddities
            elif draw < 0.9:
                metrics[key] = float(np.round(rng.normal(), 1))
        entries.append({"id": i, "status": str(status), "metrics": metrics if status == "completed" else {}})
    return entries


@pytest.mark.parametrize("seed", range(25))
def test_same_order_as_the_catalog_rank(seed):
    rng = np.random.default_rng(seed)
    entries = random_entries(rng, int(rng.integers(0, 80)))
    for key in ("perf_sharpe_ratio", "risk_max_drawdown", "trade_total_trades", "my_custom"):
        expected = [e["id"] for e in rank([dict(e) for e in entries], key)]
        column = metric_column([e["metrics"] for e in entries], key)
        completed = np.array([e["status"] == "completed" for e in entries], dtype=bool)
        assert [entries[i]["id"] for i in leaderboard_order(column, key, completed=completed)] == expected, key


def test_every_metric_of_the_table():
    rng = np.random.default_rng(99)
    entries = [
        {"id": i, "status": "completed", "metrics": dict.fromkeys(METRICS, float(np.round(rng.normal(), 1)))}
        for i in range(50)
    ]
    for entry in entries:  # a leaderboard carries the deflated Sharpe ratio beside the run's metrics
        entry["perf_deflated_sharpe_ratio"] = entry["metrics"]["perf_deflated_sharpe_ratio"]
    for key in METRICS:
        expected = [e["id"] for e in rank([dict(e) for e in entries], key)]
        assert list(leaderboard_order(metric_column([e["metrics"] for e in entries], key), key)) == expected, key
