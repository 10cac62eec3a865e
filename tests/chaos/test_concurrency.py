"""Twenty executes at once: of one backtest, exactly one runs and the rest are told it runs; of twenty, all run."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.chaos import workloads
from tests.chaos.api_probe import Answer, ask
from tests.chaos.scenario import Chaos
from tests.e2e.conformance.http_client import Api, Response

CONCURRENT = 20


def at_once(calls: list[Callable[[], Response]], endpoint: str) -> list[tuple[Answer, Response | None]]:
    """Make every call from a thread of its own, released together."""
    gate = threading.Barrier(len(calls))

    def released(call: Callable[[], Response]) -> tuple[Answer, Response | None]:
        gate.wait()
        return ask(endpoint, call)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(released, calls))


def sync_execute(api: Api, backtest_id: str) -> Callable[[], Response]:
    return lambda: api.post(f"/backtests/{backtest_id}/execute", {"async_mode": False})


@pytest.mark.quick
def test_twenty_concurrent_executes_claim_each_run_once_and_lose_none(chaos: Chaos) -> None:
    api = chaos.api
    chaos.references.ensure([*workloads.QUICK, workloads.LONG[0]])
    with chaos.scenario(f"{CONCURRENT} concurrent executes", probe=False) as scenario:
        # A run of seconds: every request arrives while it runs (one that came
        # after it ended would rightly run it again).
        one = api.post("/backtests", workloads.LONG[0].body(scenario.strategy_id)).json()["id"]
        same = at_once([sync_execute(api, one)] * CONCURRENT, "POST /backtests/{id}/execute (one backtest)")
        scenario.record([answer for answer, _ in same])

        runs = [workloads.QUICK[i % len(workloads.QUICK)] for i in range(CONCURRENT)]
        ids = [api.post("/backtests", run.body(scenario.strategy_id)).json()["id"] for run in runs]
        each = at_once([sync_execute(api, i) for i in ids], "POST /backtests/{id}/execute (twenty backtests)")
        scenario.record([answer for answer, _ in each])

    assert scenario.verdict is not None
    scenario.verdict.check()
    assert Counter(answer.status for answer, _ in same) == {200: 1, 409: CONCURRENT - 1}
    assert [answer.status for answer, _ in each] == [200] * CONCURRENT
    assert all(response is not None and response.json()["status"] == "completed" for _, response in each)
    assert scenario.verdict.runs == CONCURRENT + 1
