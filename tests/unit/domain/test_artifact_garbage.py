"""Which artifact objects are garbage, without servers: left behind by live runs, past the grace period."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.domain.artifact_garbage import StoredObject, garbage, owner_of

NOW = datetime(2026, 12, 6, tzinfo=UTC)
OLD, NEW = NOW - timedelta(days=2), NOW - timedelta(minutes=5)
RUN, GONE_RUN = uuid.uuid4(), uuid.uuid4()
SWEEP, GONE_SWEEP = uuid.uuid4(), uuid.uuid4()


def obj(key: str, modified: datetime = OLD) -> StoredObject:
    return StoredObject(key, 100, modified)


def test_owners_are_read_from_both_layouts():
    assert owner_of(f"artifacts/{RUN}/equity.parquet").backtest_id == RUN
    assert owner_of(f"artifacts/{RUN}/{SWEEP}/2/equity.parquet").backtest_id == RUN  # one job attempt's own files
    assert owner_of(f"artifacts/jobs/{SWEEP}.3/2/trades.parquet").task_id == SWEEP
    assert owner_of("artifacts/results-tests/x/equity.parquet") is None
    assert owner_of("artifacts/jobs/not-a-job/1/equity.parquet") is None


def test_left_behind_by_a_live_run_and_past_the_grace_period_is_garbage():
    objects = [
        obj(f"artifacts/{RUN}/equity.parquet"),  # referenced: kept
        obj(f"artifacts/{RUN}/old-equity.parquet"),  # a re-execute moved on: garbage
        obj(f"artifacts/{RUN}/{SWEEP}/1/equity.parquet"),  # a job whose run was executed again since: garbage
        obj(f"artifacts/{RUN}/fresh.parquet", NEW),  # in its grace period: kept
        obj(f"artifacts/{GONE_RUN}/equity.parquet"),  # a deleted backtest's: kept, as the seed says
        obj(f"artifacts/jobs/{SWEEP}.0/1/equity.parquet"),  # an attempt whose outcome was never recorded
        obj(f"artifacts/jobs/{SWEEP}.0/2/equity.parquet"),  # the attempt the runs point into: kept
        obj(f"artifacts/jobs/{GONE_SWEEP}.0/1/equity.parquet"),  # every run of that sweep deleted: kept
        obj("artifacts/someone/else.parquet"),  # not a layout we write: not ours to judge
    ]
    chosen = garbage(
        objects,
        referenced={f"artifacts/{RUN}/equity.parquet", f"artifacts/jobs/{SWEEP}.0/2/equity.parquet"},
        live_backtests={RUN},
        live_tasks={SWEEP},
        older_than=NOW - timedelta(hours=1),
    )
    assert {item.key for item in chosen} == {
        f"artifacts/jobs/{SWEEP}.0/1/equity.parquet",
        f"artifacts/{RUN}/old-equity.parquet",
        f"artifacts/{RUN}/{SWEEP}/1/equity.parquet",
    }
    assert [item.key for item in chosen] == sorted(item.key for item in chosen)
