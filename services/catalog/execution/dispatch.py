"""Claims a backtest for a run and queues its job, in one transaction.

The claim is one conditional UPDATE (services.catalog.repository.backtests.claim):
of many concurrent execute calls exactly one matches the row, the others
find it running and get 409. The job goes into the outbox in the same
transaction, so a crash before publishing loses nothing: the relay publishes
it later.

A job carries its runs' configs and the location of their bars, as claimed,
so an executor starts computing the moment it receives the job.

The claim, the task and the bars' location are one statement (`_CLAIM`) and
the outbox row one more: a burst of small executes spent a fifth of the
catalog's time on five separate statements here.

A plugin run that reads no model-output series (nothing to bind, nothing
more to read) goes through `claim_plain` instead: the same claim, task and
outbox row in one statement (`_CLAIM_PLAIN`), run in autocommit. One
statement is one transaction on its own, so the claim and its job commit
together as before, in one round trip instead of BEGIN, claim, insert and
COMMIT. The statement claims several runs at once: the executes that
arrive while a claim is in flight go together in the next one
(services.catalog.execution.claim_group), each with its own task and job.
Its outbox payload is written by the database from the claimed row (the
relay decodes it with `Job.decode`, as any other); the job published
straight away is built from the same row in Python.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Text, column, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.adapters.bus import Job, Topology
from services.catalog import signal_binding
from services.catalog.db.models import Backtest
from services.catalog.repository import backtests, outbox
from services.domain.errors import ConflictError, NotFoundError
from services.domain.jobs import JobId
from services.domain.run_config import RUN_FIELDS
from services.domain.signals import SERIES_READERS
from services.domain.statuses import RunStatus, TaskKind, TaskStatus

# One round trip: mark the run running for the job (one conditional UPDATE: of concurrent claims exactly one
# matches), record the SHA-256 of the bars it reads, insert its PENDING execute task, and
# return its run fields with the bars' location. No row when the run is missing or running.
_SERIES_OF = (
    "FROM series AS s WHERE s.symbol = {row}.config ->> 'symbol' AND s.timeframe = {row}.config ->> 'timeframe'"
)


# What a claim sets on the run, and its execute task: shared by both claim statements, which name the
# claim's job and task ids differently (parameters in _CLAIM, columns of the wanted rows in _CLAIM_PLAIN).
def _claimed_set(job_id: str) -> str:
    return f"""SET status = :running, claimed_at = now(), attempts = 0, job_id = {job_id}, error = NULL,
            metrics = CAST('{{}}' AS jsonb), trades_uri = NULL, equity_curve_uri = NULL, return_blocks = NULL,
            updated_at = now(), bars_sha256 = (SELECT s.sha256 {_SERIES_OF.format(row="b")})"""


def _task_insert(task_id: str, backtest_id: str) -> str:
    return f"""INSERT INTO tasks (id, kind, status, total, backtest_id)
        SELECT {task_id}, :execute, :pending, 1, {backtest_id} FROM claimed"""


# The statuses and task kind both claim statements write.
_STATUS_PARAMETERS = {"running": RunStatus.RUNNING, "execute": TaskKind.EXECUTE, "pending": TaskStatus.PENDING}
_CLAIM = text(
    f"""
    WITH claimed AS (
        UPDATE backtests AS b
        {_claimed_set(":job_id")}
        WHERE b.id = :backtest_id AND b.status <> :running
        RETURNING {", ".join(f"b.{name}" for name in RUN_FIELDS)}, b.bars_sha256
    ), task AS (
        {_task_insert(":task_id", ":backtest_id")}
    )
    SELECT claimed.*, (SELECT s.object_uri {_SERIES_OF.format(row="claimed")}) AS bars_uri FROM claimed
    """
).columns(*(Backtest.__table__.c[name] for name in RUN_FIELDS), column("bars_sha256", Text), column("bars_uri", Text))


# _CLAIM for plugin runs that read no series, with their outbox rows: one statement, run in autocommit, for
# one run or several (the claims gathered from concurrent executes: services.catalog.execution.claim_group).
# Each wanted run brings its job and task ids; the payload is Job.encode's JSON object, built from the claimed
# row (Job.decode reads it back). The backtest ids must be distinct (a repeat would claim its row once).
_RUN_JSON = ", ".join(f"'{name}', claimed.{name}" + ("::text" if name == "strategy_id" else "") for name in RUN_FIELDS)
_CLAIM_PLAIN = text(
    f"""
    WITH wanted AS (
        SELECT * FROM unnest(CAST(:backtest_ids AS uuid[]), CAST(:job_ids AS text[]), CAST(:task_ids AS uuid[]))
            AS w(backtest_id, job_id, task_id)
    ), claimed AS (
        UPDATE backtests AS b
        {_claimed_set("w.job_id")}
        FROM wanted AS w
        WHERE b.id = w.backtest_id AND b.status <> :running AND b.config ->> 'signal_logic_id' IS NULL
            AND coalesce(b.config ->> 'signal_plugin_key', '') <> ALL(CAST(:series_readers AS text[]))
        RETURNING b.id, w.job_id AS claim_job_id, w.task_id AS claim_task_id,
            {", ".join(f"b.{name}" for name in RUN_FIELDS)}, b.bars_sha256
    ), located AS (
        SELECT claimed.*, (SELECT s.object_uri {_SERIES_OF.format(row="claimed")}) AS bars_uri FROM claimed
    ), task AS (
        {_task_insert("claimed.claim_task_id", "claimed.id")}
    ), queued AS (
        INSERT INTO outbox (subject, msg_id, payload)
        SELECT :subject_prefix || claimed.engine, claimed.claim_job_id, convert_to(CAST(jsonb_build_object(
            'job_id', claimed.claim_job_id, 'engine', claimed.engine,
            'backtest_ids', jsonb_build_array(claimed.id::text),
            'runs', jsonb_build_array(jsonb_build_object({_RUN_JSON})),
            'bars_uri', coalesce(claimed.bars_uri, ''), 'bars_sha256', coalesce(claimed.bars_sha256, ''),
            'signal_logic', NULL, 'series', CAST('{{}}' AS jsonb)
        ) AS text), 'UTF8')
        FROM located AS claimed
    )
    SELECT id, {", ".join(RUN_FIELDS)}, bars_sha256, bars_uri FROM located
    """
).columns(
    Backtest.__table__.c.id,
    *(Backtest.__table__.c[name] for name in RUN_FIELDS),
    column("bars_sha256", Text),
    column("bars_uri", Text),
)


def _claim_parameters(backtest_id: uuid.UUID) -> tuple[uuid.UUID, str, dict]:
    """(task id, job id, the parameters `_CLAIM` takes) for a new execute task."""
    task_id = uuid.uuid4()
    job_id = str(JobId.for_execute(task_id))
    parameters = {
        "backtest_id": backtest_id,
        "job_id": job_id,
        "task_id": task_id,
        **_STATUS_PARAMETERS,
    }
    return task_id, job_id, parameters


def _execute_job(job_id: str, backtest_id: uuid.UUID, run: dict, claimed, **signal) -> Job:
    """The one-run job of an execute: `claimed` is the claim's row (the bars' location and SHA-256)."""
    return Job(
        job_id=job_id,
        engine=run["engine"],
        backtest_ids=[str(backtest_id)],
        runs=[run],
        bars_uri=claimed["bars_uri"] or "",
        bars_sha256=claimed["bars_sha256"] or "",
        **signal,
    )


async def claim_plain(
    connection: AsyncConnection, topology: Topology, backtest_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[uuid.UUID, Job]]:
    """`claim_backtest` in one statement for plugin runs that read no series; the connection must be in autocommit.

    backtest_ids: distinct runs, each claimed for a new execute task of its own.
    Returns (task id, queued job) by backtest id, committed, for the runs claimed; a run
    left out is missing or running, or needs binding (`claim_backtest` then decides).
    """
    task_ids = [uuid.uuid4() for _ in backtest_ids]
    job_ids = [str(JobId.for_execute(task_id)) for task_id in task_ids]
    parameters = {
        "backtest_ids": backtest_ids,
        "job_ids": job_ids,
        "task_ids": task_ids,
        **_STATUS_PARAMETERS,
        "series_readers": sorted(SERIES_READERS),
        "subject_prefix": topology.job_subject(""),
    }
    rows = (await connection.execute(_CLAIM_PLAIN, parameters)).mappings().all()
    ids = dict(zip(backtest_ids, zip(task_ids, job_ids, strict=True), strict=True))
    claimed: dict[uuid.UUID, tuple[uuid.UUID, Job]] = {}
    for row in rows:
        task_id, job_id = ids[row["id"]]
        claimed[row["id"]] = (task_id, _execute_job(job_id, row["id"], backtests.run_fields(row), row))
    return claimed


async def claim_backtest(session: AsyncSession, topology: Topology, backtest_id: uuid.UUID) -> tuple[uuid.UUID, Job]:
    """Marks the backtest running, creates its execute task and queues its job; the caller commits.

    topology: bus names, for the job's subject.
    Returns the task's id (the task is PENDING) and the queued job.
    Raises NotFoundError when the backtest does not exist, ConflictError when it is running.
    """
    task_id, job_id, parameters = _claim_parameters(backtest_id)
    row = (await session.execute(_CLAIM, parameters)).mappings().one_or_none()
    if row is None:
        if await backtests.status_of(session, backtest_id) is None:
            raise NotFoundError("backtest", str(backtest_id))
        raise ConflictError(f"backtest {backtest_id} is already running")
    claimed = backtests.run_fields(row)
    run, logic, read_series = await signal_binding.job_signal(session, claimed)
    if run is not claimed:  # bound to its logic's current version (same symbol and timeframe): the version it runs
        await backtests.set_config(session, backtest_id, run["config"])
    job = _execute_job(job_id, backtest_id, run, row, signal_logic=logic, series=read_series)
    await outbox.queue_job(session, topology, job)
    return task_id, job
