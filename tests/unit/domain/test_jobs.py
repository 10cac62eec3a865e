"""Job ids: how they are written, and that the task comes back out of them."""

from __future__ import annotations

import uuid

import pytest

from services.domain.jobs import JobId

TASK = uuid.UUID("5f0c2a9e-7b3d-4c1a-9e8f-2b6d4a1c0e7f")


def test_an_execute_job_is_named_after_its_task():
    job = JobId.for_execute(TASK)
    assert str(job) == str(TASK)
    assert JobId.parse(str(job)) == job and job.task_id == TASK


def test_a_sweep_job_is_its_task_and_its_number():
    job = JobId.for_sweep(TASK, 12)
    assert str(job) == f"{TASK}.12"
    assert JobId.parse(f"{TASK}.12") == job and job.task_id == TASK


@pytest.mark.parametrize(
    "text", ["", "x", f"{TASK}.", f"{TASK}.-1", f"{TASK}.1.2", f"{TASK}.a", str(TASK).upper(), f"{TASK}.\u0661"]
)
def test_anything_else_is_not_a_job_id(text):
    with pytest.raises(ValueError):
        JobId.parse(text)


def test_a_sweep_job_number_is_not_negative():
    with pytest.raises(ValueError):
        JobId.for_sweep(TASK, -1)
