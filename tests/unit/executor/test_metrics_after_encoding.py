"""A job's metrics start once its equity file is encoded, at most once, and are always retrievable."""

from __future__ import annotations

import asyncio
import threading

import pytest

from services.executor.worker import _AfterEncoding


def test_started_once_however_often_asked():
    runs = []
    metrics = _AfterEncoding(lambda: runs.append(threading.current_thread().name) or len(runs))
    metrics.start()
    metrics.start()  # a retried upload encodes again
    assert asyncio.run(metrics.result()) == 1
    assert len(runs) == 1 and runs[0].startswith("run-metrics")


def test_result_starts_it_when_nothing_did():
    metrics = _AfterEncoding(lambda: 42)
    assert asyncio.run(metrics.result()) == 42


def test_settled_waits_for_a_started_computation_and_swallows_its_error():
    gate = threading.Event()

    def compute():
        gate.wait(5)
        raise ValueError("no metrics")

    async def scenario():
        metrics = _AfterEncoding(compute)
        metrics.start()
        waiting = asyncio.create_task(metrics.settled())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        gate.set()
        await waiting
        with pytest.raises(ValueError, match="no metrics"):
            await metrics.result()

    asyncio.run(scenario())


def test_settled_without_a_start_returns_at_once():
    asyncio.run(_AfterEncoding(lambda: 1 / 0).settled())
