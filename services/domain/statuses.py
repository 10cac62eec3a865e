"""The lifecycle words of runs and tasks, defined once.

A backtest moves `pending -> running -> completed | failed` (docs/api.md),
or `running -> revoked` when its task is cancelled before it finished; a
task (one execute, or a whole search) moves `PENDING -> STARTED ->
PROGRESS -> SUCCESS | FAILURE`, or to `REVOKED` when cancelled: the words
Celery's users know. The
database's CHECK constraints, the SQL of execution and every comparison in
the services use these members; the migrations keep literal copies,
because a migration must mean tomorrow what it meant when it ran.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Where a backtest is in its lifecycle."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    # Its task was cancelled while it was queued or running: it has no outcome and may be executed again.
    REVOKED = "revoked"


class TaskStatus(StrEnum):
    """Where a task is; SUCCESS, FAILURE and REVOKED are final."""

    PENDING = "PENDING"
    STARTED = "STARTED"
    PROGRESS = "PROGRESS"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    # Cancelled (CancelTask): its unfinished runs are revoked; its counts say what ran.
    REVOKED = "REVOKED"

    @property
    def is_final(self) -> bool:
        """Whether nothing moves the task any more."""
        return self in FINAL_TASK_STATUSES


FINAL_TASK_STATUSES = frozenset({TaskStatus.SUCCESS, TaskStatus.FAILURE, TaskStatus.REVOKED})


class TaskKind(StrEnum):
    """What a task does: run one backtest, or every run of a sweep."""

    EXECUTE = "execute"
    SWEEP = "sweep"


def values(kind: type[StrEnum]) -> tuple[str, ...]:
    """Every word of a vocabulary, in declaration order (for CHECK constraints and messages)."""
    return tuple(member.value for member in kind)
