"""Side-by-side comparison of runs' metrics, judged by the one direction table. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.domain.errors import ValidationError
from services.domain.metric_table import best_of, direction
from services.domain.uuids import parse_uuid
from services.results.records import BacktestRecord

MIN_RUNS, MAX_RUNS = 2, 10
FIELD = "backtest_ids"


@dataclass(frozen=True)
class MetricComparison:
    """How one metric compares across runs.

    values: the metric per run id, None where a run lacks it; in request order.
    best_id: id of the best run; None for neutral metrics and when no run has a value.
    direction: "higher", "lower" or "neutral".
    """

    values: dict[str, Any]
    best_id: str | None
    direction: str


@dataclass(frozen=True)
class Comparison:
    """The answer to a compare request.

    runs: the compared records, in request order.
    metric_diff: one entry per metric key found in any run, keys sorted.
    """

    runs: list[BacktestRecord]
    metric_diff: dict[str, MetricComparison]


def validate_ids(ids: Sequence[str]) -> list[str]:
    """Canonical (lowercase) UUIDs of `ids`, or a ValidationError naming `backtest_ids`.

    ids: the requested backtest ids, as the client sent them.
    """
    if not MIN_RUNS <= len(ids) <= MAX_RUNS:
        raise ValidationError.single(FIELD, f"give between {MIN_RUNS} and {MAX_RUNS} ids, got {len(ids)}")
    canonical, malformed = [], []
    for raw in ids:
        try:
            canonical.append(str(parse_uuid(raw)))
        except ValueError:
            malformed.append(raw)
    if malformed:
        raise ValidationError.single(FIELD, "not UUIDs: " + ", ".join(repr(m) for m in malformed))
    # Duplicates are judged on the canonical form, so "ABC..." and "abc..." are one run.
    repeated = sorted({i for i in canonical if canonical.count(i) > 1})
    if repeated:
        raise ValidationError.single(FIELD, "duplicate ids: " + ", ".join(repeated))
    return canonical


def compare(runs: Sequence[BacktestRecord]) -> Comparison:
    """Compares every metric key found in any of `runs`; runs need not be completed.

    runs: the records to compare, in request order.
    """
    keys = sorted({key for run in runs for key in run.metrics})
    diff = {}
    for key in keys:
        values = {run.id: run.metrics.get(key) for run in runs}
        # Ties go to the first id best_of sees; sorting by id keeps the winner
        # independent of request order, as the seed promises.
        best = best_of(dict(sorted(values.items())), key)
        diff[key] = MetricComparison(values=values, best_id=best, direction=direction(key))
    return Comparison(runs=list(runs), metric_diff=diff)
