"""The async engine and the session factory every catalog RPC uses."""

from __future__ import annotations

import time

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from services.adapters import json_codec

# A pooled connection idle for longer than this is pinged before use (one round trip).
IDLE_BEFORE_PING_S = 1.0


def create_engine(database_url: str, *, pool_size: int = 10, autocommit: bool = False) -> AsyncEngine:
    """Builds the async engine (psycopg 3).

    database_url: `postgresql+psycopg://...`; the driver's async mode is picked by SQLAlchemy.
    pool_size: connections kept open.
    autocommit: every connection of the pool stays in autocommit (`autocommit_engine`).
    """
    # The JSON codec serves every JSONB column and every psycopg Jsonb() parameter.
    engine = create_async_engine(
        database_url,
        pool_size=pool_size,
        json_serializer=json_codec.dumps,
        json_deserializer=json_codec.loads,
        # In autocommit a rollback on return has nothing to undo: skipped, not sent to the driver.
        **({"isolation_level": "AUTOCOMMIT", "skip_autocommit_rollback": True} if autocommit else {}),
    )
    _ping_when_idle(engine)
    return engine


def autocommit_engine(engine: AsyncEngine, *, pool_size: int = 10) -> AsyncEngine:
    """An engine on the same database whose pooled connections are always in autocommit.

    For the hot statements written as one statement (a claim, a run report, the
    outbox marks), through `connect()`: its own pool, so no connection switches
    its isolation level on checkout and back on return (two driver calls each
    way), and a Core connection, not a session (no ORM execution path around a
    text() statement). Same SQLAlchemy engine, errors and disconnect handling as
    `engine`. Dispose it with the engine.
    """
    return create_engine(engine.url.render_as_string(hide_password=False), pool_size=pool_size, autocommit=True)


def _ping_when_idle(engine: AsyncEngine) -> None:
    """A database restart must not fail the next request: a connection idle for a while is pinged first.

    SQLAlchemy's pool_pre_ping pings on every checkout: a round trip per
    session, two of the few a small execute makes. A connection back in the
    pool less than IDLE_BEFORE_PING_S ago was working then; a restart takes
    longer than that, and one that happens while a connection is in use
    fails that use, which invalidates the whole pool (SQLAlchemy's rule for
    disconnects), so the next checkout reconnects.
    """
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _returned(dbapi_connection, record) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checking_out(dbapi_connection, record, proxy) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < IDLE_BEFORE_PING_S:
            return  # a fresh connection, or one that just worked
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as err:
            record.info.pop("returned_at", None)
            raise exc.DisconnectionError(f"pre-use ping failed: {err}") from err


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose rows stay readable after commit, to be converted into messages."""
    return async_sessionmaker(engine, expire_on_commit=False)
