"""Signal logic: the current version of each, every version it had, and who references it."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.db.models import SignalLogic, SignalLogicVersion, Strategy
from services.catalog.repository.views import SignalLogicView
from services.domain.commands import Page
from services.domain.errors import ConflictError, NotFoundError
from services.domain.signal_logic import LogicVersion, NewSignalLogic, SignalLogicPatch

_logic = SignalLogic.__table__
_versions = SignalLogicVersion.__table__
_VERSIONED = ("rule_tree", "output_mode", "position_mode")
# The partial index ix_backtests_signal_logic_id answers this.
_REFERENCED = text(
    "SELECT EXISTS (SELECT 1 FROM backtests WHERE config ? 'signal_logic_id' AND config ->> 'signal_logic_id' = :id)"
)


async def create(session: AsyncSession, new: NewSignalLogic) -> SignalLogicView:
    """Inserts the logic at version 1 and records that version; NotFoundError naming a missing strategy."""
    await _check_strategy(session, new.strategy_id)
    values = {
        "name": new.name,
        "description": new.description,
        "rule_tree": new.rule_tree,
        "output_mode": new.output_mode,
        "position_mode": new.position_mode,
        "strategy_id": new.strategy_id,
        "version": 1,
    }
    row = (await session.execute(insert(_logic).values(**values).returning(_logic))).one()
    await _record_version(session, row.id, 1, {name: values[name] for name in _VERSIONED})
    return SignalLogicView.of(row)


async def get(session: AsyncSession, logic_id: uuid.UUID, *, share_lock: bool = False) -> SignalLogicView:
    """The logic at its current version; NotFoundError naming its id.

    share_lock: hold a share lock until the transaction ends, so a delete waits for a backtest
        being created on the logic (and then sees it).
    """
    statement = select(_logic).where(_logic.c.id == logic_id)
    if share_lock:
        statement = statement.with_for_update(read=True)
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        raise NotFoundError("signal logic", str(logic_id))
    return SignalLogicView.of(row)


async def current_version(session: AsyncSession, logic_id: uuid.UUID, *, share_lock: bool = False) -> LogicVersion:
    """What a run made now uses: the logic's current version; NotFoundError naming the logic."""
    logic = await get(session, logic_id, share_lock=share_lock)
    return LogicVersion(str(logic.id), logic.version, logic.rule_tree, logic.output_mode, logic.position_mode)


async def list_page(session: AsyncSession, page: Page) -> list[SignalLogicView]:
    """One page of signal logic, newest first with the id as tiebreak."""
    statement = (
        select(_logic).order_by(_logic.c.created_at.desc(), _logic.c.id.desc()).offset(page.skip).limit(page.limit)
    )
    return [SignalLogicView.of(row) for row in await session.execute(statement)]


async def update_fields(session: AsyncSession, logic_id: uuid.UUID, patch: SignalLogicPatch) -> SignalLogicView:
    """Applies the patch as a new version (recorded with the tree it has then); NotFoundError if unknown."""
    if "strategy_id" in patch.changes:
        await _check_strategy(session, patch.changes["strategy_id"])
    statement = (
        update(_logic)
        .where(_logic.c.id == logic_id)
        .values(**patch.changes, version=_logic.c.version + 1, updated_at=func.now())
        .returning(_logic)
    )
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        raise NotFoundError("signal logic", str(logic_id))
    await _record_version(session, row.id, row.version, {name: getattr(row, name) for name in _VERSIONED})
    return SignalLogicView.of(row)


async def delete_unreferenced(session: AsyncSession, logic_id: uuid.UUID) -> None:
    """Deletes the logic and its versions; ConflictError while a backtest names it, NotFoundError if unknown."""
    locked = await session.scalar(select(_logic.c.id).where(_logic.c.id == logic_id).with_for_update())
    if locked is None:
        raise NotFoundError("signal logic", str(logic_id))
    if await session.scalar(_REFERENCED, {"id": str(logic_id)}):
        raise ConflictError(f"signal logic {logic_id} is referenced by backtests; delete them first")
    await session.execute(delete(_logic).where(_logic.c.id == logic_id))


async def _record_version(session: AsyncSession, logic_id: uuid.UUID, version: int, tree: dict) -> None:
    await session.execute(insert(_versions).values(logic_id=logic_id, version=version, **tree))


async def _check_strategy(session: AsyncSession, strategy_id: uuid.UUID | None) -> None:
    if strategy_id is not None and await session.get(Strategy, strategy_id) is None:
        raise NotFoundError("strategy", str(strategy_id))
