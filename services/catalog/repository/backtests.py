"""Backtests: create for an existing strategy, get, list newest first, patch, delete."""

from __future__ import annotations

import uuid

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.commands import BacktestPatch, BacktestQuery, parse_id
from services.catalog.db.integrity import is_foreign_key_violation
from services.catalog.db.models import Backtest, Strategy
from services.domain.errors import NotFoundError
from services.domain.run_config import ResolvedBacktest


async def create(session: AsyncSession, resolved: ResolvedBacktest, *, sweep_id: uuid.UUID | None = None) -> Backtest:
    """Inserts a pending backtest; NotFoundError naming the strategy when it does not exist.

    session: open session; the caller commits.
    resolved: the validated request with every default filled.
    sweep_id: the sweep task creating this run, if any.
    """
    strategy_id = parse_id("strategy_id", resolved.strategy_id)
    if await session.get(Strategy, strategy_id) is None:
        raise NotFoundError("strategy", str(strategy_id))
    row = Backtest(
        strategy_id=strategy_id,
        engine=resolved.engine,
        initial_capital=resolved.initial_capital,
        commission=resolved.commission,
        slippage=resolved.slippage,
        config=resolved.config.to_dict(),
        sweep_id=sweep_id,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as err:
        # The strategy was deleted between the check and the insert.
        if is_foreign_key_violation(err):
            raise NotFoundError("strategy", str(strategy_id)) from None
        raise
    return row


async def get(session: AsyncSession, backtest_id: uuid.UUID, *, for_update: bool = False) -> Backtest:
    """Returns the backtest or raises NotFoundError naming its id.

    for_update: lock the row until the transaction ends (read-modify-write).
    """
    row = await session.get(Backtest, backtest_id, with_for_update=for_update or None)
    if row is None:
        raise NotFoundError("backtest", str(backtest_id))
    return row


async def list_page(session: AsyncSession, query: BacktestQuery) -> list[Backtest]:
    """One page of backtests, optionally of one strategy, newest first with the id as tiebreak."""
    statement = select(Backtest).order_by(Backtest.created_at.desc(), Backtest.id.desc())
    if query.strategy_id is not None:
        statement = statement.where(Backtest.strategy_id == query.strategy_id)
    statement = statement.offset(query.page.skip).limit(query.page.limit)
    return list(await session.scalars(statement))


async def update(session: AsyncSession, backtest_id: uuid.UUID, patch: BacktestPatch) -> Backtest:
    """Applies the patch's changes and returns the updated row; NotFoundError if unknown."""
    row = await get(session, backtest_id, for_update=True)
    for name, value in patch.changes.items():
        setattr(row, name, value)
    await session.flush()
    return row


async def delete(session: AsyncSession, backtest_id: uuid.UUID) -> None:
    """Deletes the backtest record (artifacts stay in the object store); NotFoundError if unknown."""
    deleted = await session.scalar(sql_delete(Backtest).where(Backtest.id == backtest_id).returning(Backtest.id))
    if deleted is None:
        raise NotFoundError("backtest", str(backtest_id))
