"""Steps every area needs: create a strategy or a backtest, execute it, wait for a task or a status."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from .http_client import Api, Response

# Generous: on a loaded two-core machine a sweep of a few runs takes seconds.
WAIT_S = 120.0
POLL_S = 0.1
DONE_TASK = ("SUCCESS", "FAILURE")
DONE_RUN = ("completed", "failed")


def missing_id() -> str:
    """A well-formed UUID no record has."""
    return str(uuid.uuid4())


def create_strategy(api: Api, name: str = "conformance", **fields: Any) -> dict[str, Any]:
    """POST /strategies; fails the test unless 201."""
    response = api.post("/strategies", {"name": name, **fields})
    assert response.status == 201, response
    return response.json()


def create_backtest(api: Api, strategy_id: str, config: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """POST /backtests; fails the test unless 201. `fields`: engine, initial_capital, commission, slippage."""
    response = api.post("/backtests", {"strategy_id": strategy_id, "config": config, **fields})
    assert response.status == 201, response
    return response.json()


def execute(api: Api, backtest_id: str) -> dict[str, Any]:
    """Synchronous POST /execute; fails the test unless 200."""
    response = api.post(f"/backtests/{backtest_id}/execute", {"async_mode": False})
    assert response.status == 200, response
    return response.json()


def run_to_completion(api: Api, strategy_id: str, config: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Create and sync-execute a backtest that must complete; returns the GET after the run."""
    created = create_backtest(api, strategy_id, config, **fields)
    result = execute(api, created["id"])
    assert result["status"] == "completed", result
    return get_backtest(api, created["id"])


def get_backtest(api: Api, backtest_id: str) -> dict[str, Any]:
    response = api.get(f"/backtests/{backtest_id}")
    assert response.status == 200, response
    return response.json()


def list_backtests(api: Api, strategy_id: str) -> list[dict[str, Any]]:
    """Every backtest of a strategy, newest first (at most 1000)."""
    response = api.get("/backtests", params={"strategy_id": strategy_id, "limit": 1000})
    assert response.status == 200, response
    return response.json()


def poll(
    fetch: Callable[[], Response],
    done: Callable[[dict[str, Any]], bool],
    *,
    timeout_s: float = WAIT_S,
    seen: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """GET until `done(body)`; every body polled is appended to `seen`. Fails after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = fetch()
        assert response.status == 200, response
        body = response.json()
        if seen is not None:
            seen.append(body)
        if done(body):
            return body
        assert time.monotonic() < deadline, f"still not done after {timeout_s}s: {body}"
        time.sleep(POLL_S)


def wait_task(
    api: Api, task_id: str, *, timeout_s: float = WAIT_S, seen: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Poll GET /tasks/{id} until SUCCESS or FAILURE."""
    return poll(
        lambda: api.get(f"/tasks/{task_id}"), lambda t: t["status"] in DONE_TASK, timeout_s=timeout_s, seen=seen
    )


def wait_backtest(api: Api, backtest_id: str, *, timeout_s: float = WAIT_S) -> dict[str, Any]:
    """Poll GET /backtests/{id} until completed or failed."""
    return poll(lambda: api.get(f"/backtests/{backtest_id}"), lambda b: b["status"] in DONE_RUN, timeout_s=timeout_s)
