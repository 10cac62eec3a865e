"""Strategies: create, get, list newest first, delete unless referenced."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.db.integrity import is_foreign_key_violation
from services.catalog.db.models import Backtest, Strategy
from services.catalog.repository.views import StrategyView
from services.domain.commands import NewStrategy, Page
from services.domain.errors import ConflictError, NotFoundError


async def create(session: AsyncSession, new: NewStrategy) -> StrategyView:
    """Inserts a strategy and returns it with its id and timestamps.

    session: open session; the caller commits.
    new: the validated strategy.
    """
    row = Strategy(name=new.name, description=new.description, universe=new.universe, params=new.params)
    session.add(row)
    await session.flush()
    return StrategyView.of(row)


async def get(session: AsyncSession, strategy_id: uuid.UUID) -> StrategyView:
    """Returns the strategy or raises NotFoundError naming its id."""
    row = await session.get(Strategy, strategy_id)
    if row is None:
        raise NotFoundError("strategy", str(strategy_id))
    return StrategyView.of(row)


async def list_page(session: AsyncSession, page: Page) -> list[StrategyView]:
    """One page of strategies, newest first; the id breaks ties between equal timestamps."""
    query = (
        select(Strategy).order_by(Strategy.created_at.desc(), Strategy.id.desc()).offset(page.skip).limit(page.limit)
    )
    return [StrategyView.of(row) for row in await session.scalars(query)]


async def delete_unreferenced(session: AsyncSession, strategy_id: uuid.UUID) -> None:
    """Deletes the strategy; ConflictError while any backtest references it, NotFoundError if unknown."""
    await get(session, strategy_id)
    referenced = await session.scalar(select(exists().where(Backtest.strategy_id == strategy_id)))
    if referenced:
        raise ConflictError(f"strategy {strategy_id} is referenced by backtests; delete them first")
    try:
        await session.execute(delete(Strategy).where(Strategy.id == strategy_id))
    except IntegrityError as err:
        # A backtest was created between the check and the delete: the
        # RESTRICT foreign key catches it, and it is the same conflict.
        if is_foreign_key_violation(err):
            raise ConflictError(f"strategy {strategy_id} is referenced by backtests; delete them first") from None
        raise
