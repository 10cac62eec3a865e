"""Waiting for a sync execute's outcome (services.catalog.execution.waiting), without servers."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace

from services.catalog.execution import waiting
from services.catalog.execution.waiting import SettledEvents, wait_for_outcome


def _row(status: str) -> SimpleNamespace:
    return SimpleNamespace(status=status)


def test_a_handed_over_row_of_this_job_is_the_answer_without_a_read():
    async def run():
        events, backtest_id = SettledEvents(), uuid.uuid4()
        reads = []

        async def read():
            reads.append(1)
            return _row("running"), "job-1"

        with events.registered(backtest_id) as waiter:
            asyncio.get_running_loop().call_later(0.01, events.deliver, {backtest_id: ("job-1", _row("completed"))})
            answer = await wait_for_outcome(waiter, read, job_id="job-1", timeout=5)
        assert events.waited_for() == set()
        return answer, reads

    answer, reads = asyncio.run(run())
    assert answer.status == "completed" and reads == []


def test_a_late_announcement_of_a_previous_job_does_not_end_the_wait():
    async def run():
        events, backtest_id = SettledEvents(), uuid.uuid4()
        state = {"row": _row("running")}

        async def read():
            return state["row"], "job-2"

        def settle():
            state["row"] = _row("completed")
            events.deliver({backtest_id: ("job-2", state["row"])})

        with events.registered(backtest_id) as waiter:
            loop = asyncio.get_running_loop()
            loop.call_later(0.01, events.deliver, {backtest_id: ("job-1", _row("completed"))})  # the previous run's
            loop.call_later(0.2, settle)
            started = loop.time()
            answer = await wait_for_outcome(waiter, read, job_id="job-2", timeout=5)
            return answer, loop.time() - started

    answer, waited = asyncio.run(run())
    assert answer.status == "completed" and waited >= 0.19


def test_an_outcome_committed_elsewhere_is_read_and_the_wait_times_out_as_none(monkeypatch):
    monkeypatch.setattr(waiting, "RECHECK_S", 0.05)

    async def run():
        events, backtest_id = SettledEvents(), uuid.uuid4()

        async def read_failed():
            return _row("failed"), "job-1"

        async def read_running():
            return _row("running"), "job-1"

        with events.registered(backtest_id) as waiter:
            waiter.announced.set()  # an event from another catalog replica: no row handed over
            failed = await wait_for_outcome(waiter, read_failed, job_id="job-1", timeout=5)
        with events.registered(backtest_id) as waiter:
            missed = await wait_for_outcome(waiter, read_running, job_id="job-1", timeout=0.2)
        return failed, missed

    failed, missed = asyncio.run(run())
    assert failed.status == "failed" and missed is None
