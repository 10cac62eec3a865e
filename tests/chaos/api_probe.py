"""Calls the API through the gateway in a loop while a scenario runs, and keeps every answer.

Each round reads what each dependency serves (PostgreSQL through the catalog,
the executor registry on NATS, artifacts on S3 through the results service);
every few seconds it also writes: creates a strategy and a backtest and
executes it, and submits a small sweep. A run the probe got accepted joins the
scenario's runs, so it too must complete.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.chaos.workloads import PROBE_GRID, RunConfig, sweep_body
from tests.e2e.conformance.http_client import Api, Response

# Past this a request counts as unanswered: a client would have given up.
ANSWER_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Answer:
    """One request and what came back."""

    endpoint: str
    """Method and route, ids left out: 'GET /backtests/{id}'."""
    sent: float
    """Wall-clock time the request went out."""
    took: float
    """Seconds until the answer (or the failure)."""
    status: int
    """HTTP status; 0 when no answer came (connection dropped, timeout)."""
    retry_after: str | None
    """The Retry-After header, if any."""
    body: str
    """The start of the body, or why there was no answer."""

    @property
    def ok(self) -> bool:
        """A 2xx."""
        return 200 <= self.status < 300


@dataclass(frozen=True)
class ProbeTargets:
    """Records the probe reads, and what it executes."""

    strategy_id: str
    """Strategy of the scenario: new backtests and sweeps go under it."""
    backtest_id: str
    """A completed backtest with artifacts."""
    task_id: str
    """Its task."""
    run: RunConfig
    """What the probe creates and executes: a cheap config with a clean reference."""


class ApiProbe:
    """A thread calling the API until stopped; `answers`, `executed` and `sweeps` grow as it goes."""

    def __init__(self, api_url: str, targets: ProbeTargets, *, interval: float = 0.5, write_every: float = 2.0) -> None:
        """Prepare, not start.

        api_url: the gateway's base URL.
        targets: what to read and what to execute.
        interval: seconds between two rounds of reads.
        write_every: seconds between two rounds of writes; sweeps go at a third of that rate.
        """
        self.api = Api(api_url, timeout=ANSWER_TIMEOUT_S)
        self.targets = targets
        self.interval = interval
        self.write_every = write_every
        self.answers: list[Answer] = []
        self.executed: list[str] = []
        """Backtests whose execute was accepted."""
        self.sweeps: list[str] = []
        """Tasks of accepted sweeps."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="api-probe", daemon=True)

    def __enter__(self) -> ApiProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop after the request in flight."""
        self._stop.set()
        self._thread.join()

    def recovered_at(self, since: float) -> float | None:
        """When every endpoint had answered 2xx again after `since`: the latest of their first 2xx; None if not yet.

        since: wall-clock time the fault ended.
        """
        firsts: dict[str, float | None] = {answer.endpoint: None for answer in self.answers}
        for answer in self.answers:
            if answer.ok and answer.sent >= since and firsts[answer.endpoint] is None:
                firsts[answer.endpoint] = answer.sent + answer.took
        if not firsts or None in firsts.values():
            return None
        return max(t for t in firsts.values() if t is not None)

    def _loop(self) -> None:
        t = self.targets
        reads = [
            ("GET /backtests/{id}", lambda: self.api.get(f"/backtests/{t.backtest_id}")),
            ("GET /backtests?strategy_id", lambda: self.api.get("/backtests", params={"strategy_id": t.strategy_id})),
            ("GET /tasks/{id}", lambda: self.api.get(f"/tasks/{t.task_id}")),
            ("GET /strategies/{id}", lambda: self.api.get(f"/strategies/{t.strategy_id}")),
            ("GET /market-data", lambda: self.api.get("/market-data")),
            ("GET /backtests/engines/available", lambda: self.api.get("/backtests/engines/available")),
            ("GET /backtests/{id}/trades", lambda: self.api.get(f"/backtests/{t.backtest_id}/trades")),
            (
                "GET /backtests/{id}/equity-curve/parquet",
                lambda: self.api.get(f"/backtests/{t.backtest_id}/equity-curve/parquet"),
            ),
        ]
        rounds = 0
        next_write = 0.0
        while not self._stop.is_set():
            for endpoint, call in reads:
                self._call(endpoint, call)
            if time.monotonic() >= next_write:
                self._write(sweep=rounds % 3 == 0)
                rounds += 1
                next_write = time.monotonic() + self.write_every
            self._stop.wait(self.interval)

    def _write(self, *, sweep: bool) -> None:
        t = self.targets
        self._call("POST /strategies", lambda: self.api.post("/strategies", {"name": "chaos probe"}))
        created = self._call("POST /backtests", lambda: self.api.post("/backtests", t.run.body(t.strategy_id)))
        if created is not None and created.status == 201:
            backtest_id = created.json()["id"]
            executed = self._call(
                "POST /backtests/{id}/execute/async", lambda: self.api.post(f"/backtests/{backtest_id}/execute/async")
            )
            if executed is not None and 200 <= executed.status < 300:
                self.executed.append(backtest_id)
        if sweep:
            body = sweep_body(t.strategy_id, t.run, PROBE_GRID)
            swept = self._call("POST /backtests/sweep", lambda: self.api.post("/backtests/sweep", body))
            if swept is not None and 200 <= swept.status < 300:
                self.sweeps.append(swept.json()["task_id"])

    def _call(self, endpoint: str, call: Callable[[], Response]) -> Response | None:
        answer, response = ask(endpoint, call)
        self.answers.append(answer)
        return response


def ask(endpoint: str, call: Callable[[], Response]) -> tuple[Answer, Response | None]:
    """Make one request and describe what came back; the response too, when one did.

    endpoint: method and route, for grouping answers ('POST /backtests/{id}/execute').
    call: makes the request.
    """
    sent, began = time.time(), time.monotonic()
    try:
        response = call()
    except (OSError, http.client.HTTPException) as exc:  # TimeoutError is an OSError
        return Answer(endpoint, sent, time.monotonic() - began, 0, None, f"{type(exc).__name__}: {exc}"), None
    took = time.monotonic() - began
    body = response.body[:2000].decode("utf-8", "replace") if response.status >= 300 else ""
    return Answer(endpoint, sent, took, response.status, response.headers.get("retry-after"), body), response
