"""Which grouped reports take the one-statement path (outcomes.separate_executes): executes of distinct tasks."""

from __future__ import annotations

import uuid

from services.catalog.execution.outcomes import separate_executes
from services.domain.jobs import JobId


def _execute() -> JobId:
    return JobId.for_execute(uuid.uuid4())


def test_a_coalesced_batch_of_executes_is_separate():
    assert separate_executes([(_execute(), [uuid.uuid4()]) for _ in range(5)])


def test_a_job_twice_in_one_report_takes_the_transaction():
    job = _execute()
    assert not separate_executes([(job, [uuid.uuid4()]), (job, [uuid.uuid4()])])


def test_a_sweeps_job_takes_the_transaction():
    sweep = JobId.for_sweep(uuid.uuid4(), 0)
    assert not separate_executes([(_execute(), [uuid.uuid4()]), (sweep, [uuid.uuid4()])])


def test_a_job_with_several_runs_or_none_takes_the_transaction():
    assert not separate_executes([(_execute(), [uuid.uuid4(), uuid.uuid4()])])
    assert not separate_executes([(_execute(), [])])
