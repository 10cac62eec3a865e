"""Backtests: create, get, list, patch, delete, and the statements of execution that write runs.

The columns that define a run are declared once, by the domain's
`ResolvedBacktest` (`RUN_FIELDS`): a backtest's insert, the claim's
RETURNING (what a job carries), the sweep's bulk insert and the
leaderboard's read all derive their column lists from it, so a new run field
is a domain field, a model column, a migration and a converter line, and no
statement to edit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Column, func, select, text, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.catalog.db.integrity import is_foreign_key_violation
from services.catalog.db.models import Backtest, Strategy
from services.catalog.repository.views import BacktestView
from services.domain.commands import BacktestPatch, BacktestQuery
from services.domain.errors import NotFoundError
from services.domain.run_config import RUN_FIELDS, ResolvedBacktest
from services.domain.statuses import RunStatus

_backtests = Backtest.__table__
RUN_COLUMNS: tuple[Column, ...] = tuple(_backtests.c[name] for name in RUN_FIELDS)
# A sweep's runs share strategy and engine; the other run columns vary per run.
_SHARED = ("strategy_id", "engine")
_PER_RUN = (
    _backtests.c.id,
    *(c for c in RUN_COLUMNS if c.name not in _SHARED),
    _backtests.c.job_id,
    _backtests.c.bars_sha256,
)


def _recordset(columns: Iterable[Column]) -> str:
    """`name type, ...` of `columns` in PostgreSQL's words, for jsonb_to_recordset's column list."""
    dialect = postgresql.dialect()
    return ", ".join(f"{c.name} {c.type.compile(dialect=dialect)}" for c in columns)


# All of a sweep's backtests in one statement from one JSON document: an
# executemany of 50 rows adapted every parameter in Python (8 ms a sweep).
_PER_RUN_NAMES = ", ".join(c.name for c in _PER_RUN)
_INSERT_SWEEP_RUNS = text(
    f"""
    INSERT INTO backtests ({", ".join(_SHARED)}, status, metrics, sweep_id, {_PER_RUN_NAMES})
    SELECT :strategy_id, :engine, :running, '{{}}'::jsonb, :sweep_id, {", ".join(f"r.{c.name}" for c in _PER_RUN)}
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({_recordset(_PER_RUN)})
    """
)


def run_fields(values: Any) -> dict[str, Any]:
    """The job's copy of one run: its RUN_FIELDS (a RETURNING mapping, or a resolved run's `to_dict()`)."""
    fields = {name: values[name] for name in RUN_FIELDS}
    fields["strategy_id"] = str(fields["strategy_id"])
    return fields


async def create(session: AsyncSession, resolved: ResolvedBacktest) -> BacktestView:
    """Inserts a pending backtest; NotFoundError naming the strategy when it does not exist.

    session: open session; the caller commits.
    resolved: the validated request with every default filled.
    """
    values = resolved.to_dict()
    strategy_id = values["strategy_id"] = uuid.UUID(values["strategy_id"])
    if await session.get(Strategy, strategy_id) is None:
        raise NotFoundError("strategy", str(strategy_id))
    row = Backtest(**values)
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as err:
        # The strategy was deleted between the check and the insert.
        if is_foreign_key_violation(err):
            raise NotFoundError("strategy", str(strategy_id)) from None
        raise
    return BacktestView.of(row)


async def get(session: AsyncSession, backtest_id: uuid.UUID) -> BacktestView:
    """The backtest; NotFoundError naming its id."""
    row = (await session.execute(select(_backtests).where(_backtests.c.id == backtest_id))).one_or_none()
    if row is None:
        raise NotFoundError("backtest", str(backtest_id))
    return BacktestView.of(row)


async def get_with_job(
    session: AsyncSession | AsyncConnection, backtest_id: uuid.UUID
) -> tuple[BacktestView, str | None]:
    """The backtest and the job that last claimed it; NotFoundError naming its id."""
    row = (await session.execute(select(_backtests).where(_backtests.c.id == backtest_id))).one_or_none()
    if row is None:
        raise NotFoundError("backtest", str(backtest_id))
    return BacktestView.of(row), row.job_id


async def status_of(session: AsyncSession, backtest_id: uuid.UUID) -> str | None:
    """The backtest's status; None when it does not exist."""
    return await session.scalar(select(_backtests.c.status).where(_backtests.c.id == backtest_id))


async def list_page(session: AsyncSession, query: BacktestQuery) -> list[BacktestView]:
    """One page of backtests, optionally of one strategy, newest first with the id as tiebreak."""
    statement = select(_backtests).order_by(_backtests.c.created_at.desc(), _backtests.c.id.desc())
    if query.strategy_id is not None:
        statement = statement.where(_backtests.c.strategy_id == query.strategy_id)
    statement = statement.offset(query.page.skip).limit(query.page.limit)
    return [BacktestView.of(row) for row in await session.execute(statement)]


async def update_fields(session: AsyncSession, backtest_id: uuid.UUID, patch: BacktestPatch) -> BacktestView:
    """Applies the patch's changes and returns the updated backtest; NotFoundError if unknown."""
    statement = (
        update(_backtests)
        .where(_backtests.c.id == backtest_id)
        .values(**patch.changes, updated_at=func.now())
        .returning(_backtests)
    )
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        raise NotFoundError("backtest", str(backtest_id))
    return BacktestView.of(row)


async def set_config(session: AsyncSession, backtest_id: uuid.UUID, config: dict[str, Any]) -> None:
    """Replaces the backtest's stored config (a claimed run recording the signal logic version it runs)."""
    await session.execute(update(_backtests).where(_backtests.c.id == backtest_id).values(config=config))


async def delete(session: AsyncSession, backtest_id: uuid.UUID) -> BacktestView:
    """Deletes the backtest record (its artifacts stay in the object store) and returns it; NotFoundError if unknown."""
    statement = sql_delete(_backtests).where(_backtests.c.id == backtest_id).returning(_backtests)
    deleted = (await session.execute(statement)).one_or_none()
    if deleted is None:
        raise NotFoundError("backtest", str(backtest_id))
    return BacktestView.of(deleted)


async def insert_sweep_runs(
    session: AsyncSession, sweep_id: uuid.UUID, runs: list[tuple[uuid.UUID, ResolvedBacktest, str, str]]
) -> None:
    """Inserts a sweep's backtests, running from the start, in one statement.

    sweep_id: the sweep's task; each backtest carries it.
    runs: (backtest id, resolved run, id of the job that runs it, SHA-256 of the bars it reads),
        all of one strategy and engine.
    """
    first = runs[0][1]
    rows = []
    for backtest_id, run, job_id, bars_sha256 in runs:
        values = run.to_dict() | {"id": str(backtest_id), "job_id": job_id, "bars_sha256": bars_sha256 or None}
        rows.append({c.name: values[c.name] for c in _PER_RUN})
    await session.execute(
        _INSERT_SWEEP_RUNS,
        {
            "strategy_id": uuid.UUID(first.strategy_id),
            "engine": first.engine,
            "running": RunStatus.RUNNING,
            "sweep_id": sweep_id,
            "rows": Jsonb(rows),
        },
    )
