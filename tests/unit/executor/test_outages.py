"""Riding out outages without servers: retries while a dependency is unreachable, a reason once the window is spent."""

from __future__ import annotations

import asyncio

import grpc
import pytest
import urllib3

from services.domain.errors import ValidationError
from services.executor.outages import OBJECT_STORE, Dependencies, OutageTooLong


class Clock:
    """Time that moves only when a retry sleeps (asyncio.sleep is patched to advance it)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    real_sleep = asyncio.sleep

    async def sleep(seconds: float, *args) -> None:
        clock.now += seconds
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return clock


def unreachable() -> Exception:
    return urllib3.exceptions.MaxRetryError(None, "/bucket/key", "Connection refused")


def failing(times: int, error: Exception):
    calls = {"n": 0}

    async def step():
        calls["n"] += 1
        if calls["n"] <= times:
            raise error
        return "stored"

    return step, calls


def test_a_step_is_retried_while_its_dependency_is_away_and_its_result_returned(clock):
    deps = Dependencies({}, clock=clock)
    step, calls = failing(4, unreachable())
    assert asyncio.run(deps.call(OBJECT_STORE, step, window_s=600, what="store")) == "stored"
    assert calls["n"] == 5 and deps.down() == []  # back up once it answered


def test_a_step_still_failing_after_the_window_names_the_dependency_and_the_duration(clock):
    deps = Dependencies({}, clock=clock)
    step, _ = failing(10_000, unreachable())
    with pytest.raises(OutageTooLong) as caught:
        asyncio.run(deps.call(OBJECT_STORE, step, window_s=60, what="store"))
    assert caught.value.dependency == "object store" and 60 <= caught.value.seconds < 71
    message = str(caught.value)
    assert message.startswith("the object store was unreachable for ") and "127.0.0.1" not in message
    assert deps.down() == ["object store"]


@pytest.mark.parametrize("error", [ValidationError.single("x", "bad"), KeyError("column"), ZeroDivisionError()])
def test_errors_that_are_not_outages_are_raised_at_once(clock, error):
    deps = Dependencies({}, clock=clock)
    step, calls = failing(1, error)
    with pytest.raises(type(error)):
        asyncio.run(deps.call(OBJECT_STORE, step, window_s=600, what="store"))
    assert calls["n"] == 1 and deps.down() == []


def test_a_catalog_that_answers_unavailable_counts_as_away(clock):
    error = grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, None, None, details="the database is unavailable")
    deps = Dependencies({}, clock=clock)
    step, calls = failing(2, error)
    assert asyncio.run(deps.call("catalog", step, window_s=600, what="CompleteRuns")) == "stored"
    assert calls["n"] == 3


def test_no_new_job_is_pulled_until_every_dependency_answers_its_probe(clock):
    answers = {"n": 0}

    async def probe():
        answers["n"] += 1
        if answers["n"] < 3:
            raise unreachable()

    deps = Dependencies({OBJECT_STORE: probe}, clock=clock)
    deps.mark_down(OBJECT_STORE)
    asyncio.run(deps.wait_until_up(asyncio.Event()))
    assert deps.down() == [] and answers["n"] == 3
