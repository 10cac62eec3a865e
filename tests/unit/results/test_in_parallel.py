"""The JSON batches printed two at a time: results in order, failures in place, early stops clean."""

from __future__ import annotations

import threading
import time

import pytest

from services.results.servicer import _in_parallel


class Job:
    """Stands in for row_printing.BatchJob: `messages` returns [index], after `delay` seconds."""

    def __init__(self, index: int, delay: float = 0.0, started: list | None = None) -> None:
        self.index, self.delay, self.started = index, delay, started

    def messages(self, buffers) -> list:
        if self.started is not None:
            self.started.append(self.index)
        time.sleep(self.delay)
        if self.index < 0:
            raise LookupError("gone")
        return [self.index]


def test_results_come_in_order_whichever_finishes_first():
    jobs = (Job(index, delay=0.02 if index % 2 == 0 else 0.0) for index in range(20))
    assert list(_in_parallel(jobs, None, 2)) == [[index] for index in range(20)]
    assert list(_in_parallel(iter([]), None, 2)) == []


def test_two_jobs_run_at_once():
    began = time.perf_counter()
    assert list(_in_parallel((Job(index, delay=0.2) for index in range(4)), None, 2)) == [[0], [1], [2], [3]]
    assert time.perf_counter() - began < 0.7  # four 0.2 s jobs, two at a time: ~0.4 s


def test_a_failure_is_raised_in_its_place():
    seen = []
    with pytest.raises(LookupError, match="gone"):
        for result in _in_parallel(iter([Job(0), Job(1), Job(-1), Job(3)]), None, 2):
            seen.append(result)
    assert seen == [[0], [1]]


def test_stopping_early_starts_no_more_jobs_and_closes_the_jobs():
    started: list[int] = []
    closed = threading.Event()

    def jobs():
        try:
            for index in range(100):
                yield Job(index, delay=0.01, started=started)
        finally:
            closed.set()

    printed = _in_parallel(jobs(), None, 2)
    assert next(printed) == [0]
    printed.close()
    assert closed.is_set()
    time.sleep(0.1)
    assert len(started) <= 3
