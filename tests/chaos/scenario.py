"""One chaos scenario on the suite's stack: its own strategy, the API probe, a fault, then settling and judging.

    with chaos.scenario("PostgreSQL down 10 s") as scenario:
        scenario.submit(workloads.MEDIUM * 10)
        scenario.wait_computing()
        with scenario.fault():
            ...                     # kill, wait, revive
    scenario.verdict.check()

Leaving the block waits (at most SETTLE_S after the fault) until every run
has ended and every probed endpoint answers 2xx again, then judges.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from bench.service_logs import LogReader
from deploy.embedded.stack import Stack
from tests.chaos.api_probe import Answer, ApiProbe, ProbeTargets
from tests.chaos.executor_logs import ExecutorLogs, Held
from tests.chaos.exposure import exposures
from tests.chaos.references import References
from tests.chaos.verdict import Verdict
from tests.chaos.workloads import PROBE_GRID, QUICK, RunConfig, sweep_body
from tests.e2e.conformance.http_client import Api

SETTLE_S = 120.0
"""Seconds after a fault's end for every run to end and every endpoint to answer 2xx again."""
READY_S = 240.0
"""Seconds an executor may take to warm up after a start (both starting at once on two busy cores)."""
_DONE_TASK = ("SUCCESS", "FAILURE")


class Chaos:
    """The suite's harness over one stack: clean references, scenarios, and the verdicts so far."""

    def __init__(self, stack: Stack) -> None:
        """Use a started stack whose supervisor watches in the background.

        stack: the suite's stack.
        """
        self.stack = stack
        self.api = Api(stack.gateway_url)
        self.references = References(self.api)
        self.verdicts: list[Verdict] = []
        self._probe_targets: ProbeTargets | None = None

    @property
    def ports(self) -> list[int]:
        """Every port of the stack's servers and services: no error text may name one."""
        stack = self.stack
        assert stack.postgres and stack.nats and stack.s3 and stack.gateway_port
        grpc = [int(address.rpartition(":")[2]) for address in stack.grpc_addrs.values()]
        return [stack.postgres.port, stack.nats.port, stack.nats.monitor_port, stack.s3.port, stack.gateway_port, *grpc]

    def steady(self) -> None:
        """Wait until every process runs and every executor's current process has warmed up ("ready")."""
        supervisor = self.stack.supervisor
        assert supervisor is not None
        deadline = time.monotonic() + READY_S
        for child in supervisor.children:
            supervisor.wait_running(child.name, timeout=max(1.0, deadline - time.monotonic()))
        for child in supervisor.children:
            if child.name.startswith("executor-"):
                reader = LogReader(self.stack.log_path(child.name), child.log_start)
                reader.wait_for("ready", timeout=max(1.0, deadline - time.monotonic()))

    def scenario(self, name: str, *, probe: bool = True) -> Scenario:
        """A scenario to run in a `with` block.

        name: its line in the table.
        probe: call the API throughout (the concurrency scenario makes its own calls).
        """
        return Scenario(self, name, probe=probe)

    def probe_targets(self) -> ProbeTargets:
        """A completed backtest and its task for the probe to read (made once), and what it executes."""
        if self._probe_targets is None:
            run = QUICK[0]
            self.references.ensure([run])
            self.references.ensure_sweep(run, PROBE_GRID)
            strategy = self.api.post("/strategies", {"name": "chaos probe target"}).json()["id"]
            backtest = self.api.post("/backtests", run.body(strategy)).json()["id"]
            task = self.api.post(f"/backtests/{backtest}/execute/async").json()["task_id"]
            self._wait(lambda: self.api.get(f"/tasks/{task}").json()["status"] in _DONE_TASK, "the probe's target run")
            self._probe_targets = ProbeTargets(strategy, backtest, task, run)
        return self._probe_targets

    def _wait(self, done, what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"no {what} within {timeout:g}s"
            time.sleep(0.2)


class Scenario:
    """A scenario in progress; `verdict` once its block is left."""

    def __init__(self, chaos: Chaos, name: str, *, probe: bool) -> None:
        self.chaos = chaos
        self.stack = chaos.stack
        self.api = chaos.api
        self.name = name
        self.with_probe = probe
        self.strategy_id = ""
        self.tasks: list[str] = []
        """Tasks of the scenario's own executes and sweeps."""
        self.answers: list[Answer] = []
        """Answers to requests the scenario made itself and wants judged (the probe keeps its own)."""
        self.fault_end: float | None = None
        self.settled_at: float | None = None
        self.verdict: Verdict | None = None
        self.logs: ExecutorLogs | None = None
        self.probe: ApiProbe | None = None

    def __enter__(self) -> Scenario:
        self.chaos.steady()
        created = self.api.post("/strategies", {"name": f"chaos: {self.name}"})
        assert created.status == 201, created
        self.strategy_id = created.json()["id"]
        self.logs = ExecutorLogs(self.stack)
        if self.with_probe:
            targets = replace(self.chaos.probe_targets(), strategy_id=self.strategy_id)
            self.probe = ApiProbe(self.stack.gateway_url, targets)
            self.probe.__enter__()
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> None:
        try:
            if exc is None:
                self.settled_at = self._settle(deadline=(self.fault_end or time.time()) + SETTLE_S, probed=True)
        finally:
            if self.probe is not None:
                self.probe.stop()
            # The probe's last runs went out while the others settled; they must end too.
            if exc is None and self.settled_at is not None:
                self._settle(deadline=time.time() + SETTLE_S, probed=False)
            error = None if exc is None else f"{type(exc).__name__}: {exc}"
            self.verdict = self._judge(error)
            self.chaos.verdicts.append(self.verdict)

    def submit(self, runs: list[RunConfig]) -> list[str]:
        """Create and execute (async) each run; return the backtest ids.

        runs: the configs, each becoming one backtest.
        """
        ids = []
        for run in runs:
            created = self.api.post("/backtests", run.body(self.strategy_id))
            assert created.status == 201, created
            backtest_id = created.json()["id"]
            executed = self.api.post(f"/backtests/{backtest_id}/execute/async")
            assert executed.status == 200, executed
            self.tasks.append(executed.json()["task_id"])
            ids.append(backtest_id)
        return ids

    def sweep(self, base: RunConfig, grid: list[dict[str, Any]]) -> str:
        """Submit a sweep; return its task id.

        base: engine and base config.
        grid: the overrides.
        """
        submitted = self.api.post("/backtests/sweep", sweep_body(self.strategy_id, base, grid))
        assert submitted.status == 200, submitted
        task_id = submitted.json()["task_id"]
        self.tasks.append(task_id)
        return task_id

    def wait_computing(self, *, timeout: float = 60.0) -> Held:
        """Wait until an executor computes one of the scenario's jobs; return which and which job.

        Computing means: the executor logged the job received and not let go
        of it, and the catalog has counted the attempt (the task is STARTED).

        timeout: seconds to wait at most.
        """
        assert self.logs is not None
        deadline = time.monotonic() + timeout
        while True:
            for held in self.logs.in_hand(set(self.tasks)):
                status = self.api.get(f"/tasks/{held.task_id}").json()["status"]
                if status in ("STARTED", "PROGRESS") and held in self.logs.in_hand({held.task_id}):
                    return held
            assert time.monotonic() < deadline, f"no executor computing a job of {self.name} within {timeout:g}s"
            time.sleep(0.05)

    @contextmanager
    def fault(self) -> Iterator[None]:
        """Wrap the fault: recovery is measured from the end of this block."""
        yield
        self.fault_end = time.time()

    def record(self, answers: list[Answer]) -> None:
        """Have answers to the scenario's own requests judged with the probe's.

        answers: what came back.
        """
        self.answers += answers

    def backtests(self) -> list[dict[str, Any]]:
        """Every backtest of the scenario's strategy (raises while the API cannot list them)."""
        listed = self.api.get("/backtests", params={"strategy_id": self.strategy_id, "limit": 1000})
        assert listed.status == 200, listed
        return listed.json()

    def _tasks(self) -> list[str]:
        return self.tasks + (self.probe.sweeps if self.probe else [])

    def _settle(self, *, deadline: float, probed: bool) -> float | None:
        """Wait until every run has ended (and, if `probed`, every endpoint answered 2xx again); when, or None."""
        while time.time() < deadline:
            if self._settled(probed=probed):
                return time.time()
            time.sleep(0.5)
        return None

    def _settled(self, *, probed: bool) -> bool:
        if probed and self.probe is not None and self.fault_end is not None:
            if self.probe.recovered_at(self.fault_end) is None:
                return False
        try:
            if any(b["status"] == "running" for b in self.backtests()):
                return False
            return all(self.api.get(f"/tasks/{t}").json()["status"] in _DONE_TASK for t in self._tasks())
        except (AssertionError, ValueError, KeyError, OSError):  # the API is not back yet
            return False

    def _judge(self, error: str | None) -> Verdict:
        answers = self.answers + (self.probe.answers if self.probe else [])
        verdict = Verdict(self.name, answers=answers, error=error)
        ports = self.chaos.ports
        for answer in answers:
            if answer.status >= 300:
                verdict.expose(f"{answer.endpoint} {answer.status}", exposures(answer.body, ports))
        try:
            backtests = self.backtests()
        except (AssertionError, OSError) as exc:
            verdict.error = verdict.error or f"cannot list the scenario's backtests: {exc}"
            return verdict
        for backtest in backtests:
            status, short = backtest["status"], backtest["id"][:8]
            if status == "pending":
                continue  # created, never executed (its execute was refused)
            verdict.runs += 1
            if status == "running":
                verdict.stuck.append(f"{short} running")
            elif status == "failed":
                reason = str(backtest["metrics"].get("error", ""))
                verdict.lost.append(f"{short}: {reason[:200]}")
                verdict.expose("a run's failure reason", exposures(reason, ports))
            elif (difference := self.chaos.references.differences(backtest)) is not None:
                verdict.differ.append(f"{short}: {difference}")
        for task_id in self._tasks():
            answer = self.api.get(f"/tasks/{task_id}")
            if answer.status != 200:
                verdict.error = verdict.error or f"cannot read task {task_id}: {answer}"
                continue
            task = answer.json()
            if task["status"] not in _DONE_TASK:
                verdict.stuck.append(f"task {task_id[:8]} {task['status']}")
            texts = [task.get("error") or ""] + [
                entry.get("error") or "" for entry in (task.get("result") or {}).get("leaderboard", [])
            ]
            for text in filter(None, texts):
                verdict.expose("a task's error", exposures(text, ports))
        if self.fault_end is not None:
            if self.settled_at is not None:
                verdict.recovery_s = self.settled_at - self.fault_end
            elif error is None:
                verdict.unrecovered_after = SETTLE_S
        return verdict
