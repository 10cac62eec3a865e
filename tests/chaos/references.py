"""Clean runs to hold runs under fault against: the same config must give the same metrics and equity curve.

A reference is taken on the healthy stack before any fault of the scenario,
keyed by everything that decides a run's result (engine, capital, costs and
the config as the catalog normalised it). A single run and the same config in
a vectorbt broadcast batch give identical results (checked when the suite was
written), so a sweep's runs are held against single runs too.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from tests.chaos.workloads import RunConfig, sweep_body
from tests.e2e.conformance.http_client import Api

_DECIDING = ("engine", "initial_capital", "commission", "slippage", "config")
SWEEP_S = 180.0
"""Seconds a clean sweep may take."""


def result_key(record: dict[str, Any]) -> str:
    """What decides a backtest's result, as text.

    record: a backtest as GET /backtests/{id} returns it.
    """
    return json.dumps({name: record[name] for name in _DECIDING}, sort_keys=True)


def equity_digest(api: Api, backtest_id: str) -> str:
    """SHA-256 of the backtest's equity-curve Parquet download.

    api: a client of the gateway.
    backtest_id: a completed backtest.
    """
    response = api.get(f"/backtests/{backtest_id}/equity-curve/parquet")
    assert response.status == 200, response
    return hashlib.sha256(response.body).hexdigest()


class References:
    """Metrics and equity curves of clean runs, by result key."""

    def __init__(self, api: Api) -> None:
        """Start empty.

        api: a client of the gateway.
        """
        self.api = api
        self._strategy_id: str | None = None
        self._results: dict[str, tuple[dict[str, Any], str]] = {}
        self._keys: dict[str, str] = {}

    def ensure(self, runs: list[RunConfig]) -> None:
        """Run each config not yet known once, synchronously, on the healthy stack.

        runs: the configs a scenario is about to run under fault.
        """
        for run in runs:
            if run.label in self._keys:
                continue
            created = self.api.post("/backtests", run.body(self._strategy()))
            assert created.status == 201, created
            done = self.api.post(f"/backtests/{created.json()['id']}/execute", {"async_mode": False})
            assert done.status == 200 and done.json()["status"] == "completed", f"clean run of {run.label}: {done}"
            self._keys[run.label] = self._learn(done.json())

    def ensure_sweep(self, base: RunConfig, grid: list[dict[str, Any]]) -> None:
        """Run a sweep once on the healthy stack, taking each of its runs as a reference.

        base: engine and base config.
        grid: the overrides.
        """
        label = json.dumps({"sweep": base.label, "grid": grid}, sort_keys=True)
        if label in self._keys:
            return
        submitted = self.api.post("/backtests/sweep", sweep_body(self._strategy(), base, grid))
        assert submitted.status == 200, submitted
        task_id = submitted.json()["task_id"]
        deadline = time.monotonic() + SWEEP_S
        while (task := self.api.get(f"/tasks/{task_id}").json())["status"] not in ("SUCCESS", "FAILURE"):
            assert time.monotonic() < deadline, f"clean sweep {task_id} still {task['status']} after {SWEEP_S:g}s"
            time.sleep(0.2)
        assert task["status"] == "SUCCESS" and task["progress"]["failed"] == 0, f"clean sweep: {task}"
        for entry in task["result"]["leaderboard"]:
            record = self.api.get(f"/backtests/{entry['backtest_id']}").json()
            assert record["status"] == "completed", record
            self._learn(record)
        self._keys[label] = task_id

    def differences(self, record: dict[str, Any]) -> str | None:
        """How a completed backtest differs from the clean run of its config; None when identical.

        record: the backtest as GET /backtests/{id} returns it.
        """
        key = result_key(record)
        if key not in self._results:
            return "no clean run of this config to compare with"
        metrics, digest = self._results[key]
        if record["metrics"] != metrics:
            changed = sorted(
                k for k in metrics.keys() | record["metrics"].keys() if metrics.get(k) != record["metrics"].get(k)
            )
            return f"metrics differ: {', '.join(changed)}"
        if equity_digest(self.api, record["id"]) != digest:
            return "equity curve differs"
        return None

    def _learn(self, record: dict[str, Any]) -> str:
        key = result_key(record)
        self._results[key] = (record["metrics"], equity_digest(self.api, record["id"]))
        return key

    def _strategy(self) -> str:
        if self._strategy_id is None:
            created = self.api.post("/strategies", {"name": "chaos references"})
            assert created.status == 201, created
            self._strategy_id = created.json()["id"]
        return self._strategy_id
