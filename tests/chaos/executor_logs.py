"""Which executor holds which job right now, and who finished what, from the executors' JSON logs."""

from __future__ import annotations

from typing import NamedTuple

from bench.service_logs import LogReader
from deploy.embedded.stack import Stack


class Held(NamedTuple):
    """A job an executor holds."""

    executor: str
    """The executor's name."""
    task_id: str
    """The job's task."""
    job_id: str
    """The job (a sweep's task has several)."""


# What an executor logs when it lets go of a job, by success or failure.
LET_GO = ("job done", "attempt failed, will retry", "job failed")


class ExecutorLogs:
    """The executors' log lines written since this object was made."""

    def __init__(self, stack: Stack) -> None:
        """Remember where each executor's log ends now.

        stack: the running stack.
        """
        self.stack = stack
        self._since = {name: LogReader(stack.log_path(name)).offset for name in self.executors()}

    def executors(self) -> list[str]:
        """Names of the executors the stack watches."""
        assert self.stack.supervisor is not None
        return [c.name for c in self.stack.supervisor.children if c.name.startswith("executor-")]

    def in_hand(self, task_ids: set[str]) -> list[Held]:
        """The jobs of these tasks that an executor's current process received and has not let go of.

        task_ids: the tasks whose jobs to look for (a sweep's task has several).
        """
        assert self.stack.supervisor is not None
        holding = []
        for child in self.stack.supervisor.children:
            if child.name not in self._since or not child.alive():
                continue
            # Only this process's lines: a killed predecessor never let go of its job.
            reader = LogReader(self.stack.log_path(child.name), max(self._since[child.name], child.log_start))
            held: dict[str, str | None] = {}
            for entry in reader.entries():
                if entry.get("task_id") not in task_ids:
                    continue
                if entry.get("msg") == "job received":
                    held[entry["job_id"]] = entry["task_id"]
                elif entry.get("msg") in LET_GO:
                    held[entry["job_id"]] = None
            holding += [Held(child.name, task, job) for job, task in held.items() if task is not None]
        return holding

    def entries(self, msg: str, **match: object) -> list[dict]:
        """Every executor's entries with this `msg` and fields since this object was made, each with `executor`.

        msg: the log message.
        match: fields the entry must have with these values.
        """
        found = []
        for name, offset in self._since.items():
            for entry in LogReader(self.stack.log_path(name), offset).entries(msg, **match):
                found.append({**entry, "executor": name})
        return found
