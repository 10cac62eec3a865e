"""How jobs are named, and how a job's name leads back to its task.

A job is one message of the work queue: the single run of an execute task,
or one batch of a sweep's runs. Its id is also its JetStream `Nats-Msg-Id`
(so a re-publish is deduplicated) and the `job_id` each of its backtests
records, which is how the orphan scan finds the job a running backtest
waits on (docs/reliability.md). The id names the task that counts the
job's runs: an execute task's job is `<task id>`, the n-th job of a sweep
`<task id>.<n>`. `JobId` is the only code that writes or reads that form.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class JobId:
    """The name of one job.

    task_id: the task whose progress the job's runs advance.
    part: the job's number within a sweep; None for an execute task's only job.
    """

    task_id: uuid.UUID
    part: int | None = None

    def __str__(self) -> str:
        return str(self.task_id) if self.part is None else f"{self.task_id}.{self.part}"

    @classmethod
    def for_execute(cls, task_id: uuid.UUID) -> JobId:
        """The one job of an execute task."""
        return cls(task_id)

    @classmethod
    def for_sweep(cls, task_id: uuid.UUID, part: int) -> JobId:
        """The `part`-th job (from 0) of a sweep task."""
        if part < 0:
            raise ValueError(f"a sweep's job number cannot be negative: {part}")
        return cls(task_id, part)

    @classmethod
    def parse(cls, text: str) -> JobId:
        """The job `text` names; ValueError when it is not a job id."""
        task, dot, part = text.partition(".")
        if dot and not (part.isascii() and part.isdigit()):
            raise ValueError(f"not a job id: {text!r}")
        task_id = uuid.UUID(task)
        if str(task_id) != task:  # one spelling per job: the id is also a dedupe key
            raise ValueError(f"not a job id: {text!r}")
        return cls(task_id, int(part) if dot else None)
