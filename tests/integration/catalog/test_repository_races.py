"""The check-then-write races of the repository, forced deterministically with two transactions.

Each test holds a transaction open with a conflicting uncommitted change,
starts the repository call (its check passes, then its write waits on the
row lock), commits the conflicting change, and expects the foreign key
violation to come out as the error the check would have raised.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text

from services.catalog.db.engine import create_engine, session_factory
from services.catalog.repository import backtests, strategies
from services.domain.errors import ConflictError, NotFoundError
from services.domain.run_config import resolve_backtest

INSERT_BACKTEST = text(
    "INSERT INTO backtests (strategy_id, engine, initial_capital, commission, slippage, config)"
    " VALUES (:id, 'vectorbt', 1, 0, 0, '{}')"
)


async def race(database_url: str, conflicting_sql, params: dict, call) -> None:
    """Runs `call(session)` while another transaction's uncommitted `conflicting_sql` commits under it."""
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        async with engine.connect() as other:
            transaction = await other.begin()
            await other.execute(conflicting_sql, params)

            async def attempt():
                async with sessions.begin() as session:
                    await call(session)

            task = asyncio.create_task(attempt())
            await asyncio.sleep(0.5)  # long enough for the call to block on the row lock
            assert not task.done(), "the call did not wait for the conflicting transaction"
            await transaction.commit()
            await asyncio.wait_for(task, timeout=10)
    finally:
        await engine.dispose()


def test_backtest_inserted_while_deleting_strategy_is_a_conflict(catalog_db, strategy_id, row_counts):
    with pytest.raises(ConflictError):
        asyncio.run(
            race(
                catalog_db,
                INSERT_BACKTEST,
                {"id": strategy_id},
                lambda s: strategies.delete_unreferenced(s, uuid.UUID(strategy_id)),
            )
        )
    assert row_counts()["strategies"] > 0


def test_strategy_deleted_while_creating_backtest_is_not_found(catalog_db, body):
    resolved = resolve_backtest(body)
    delete = text("DELETE FROM strategies WHERE id = :id")
    with pytest.raises(NotFoundError) as caught:
        asyncio.run(race(catalog_db, delete, {"id": body["strategy_id"]}, lambda s: backtests.create(s, resolved)))
    assert caught.value.ids == [body["strategy_id"]]
