"""The async engine and the session factory every catalog RPC uses."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from services.adapters import json_codec


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Builds the async engine (psycopg 3).

    database_url: `postgresql+psycopg://...`; the driver's async mode is picked by SQLAlchemy.
    pool_size: connections kept open.
    """
    # pre_ping: a database restart must not fail the next request. The JSON
    # codec serves every JSONB column and every psycopg Jsonb() parameter.
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        pool_pre_ping=True,
        json_serializer=json_codec.dumps,
        json_deserializer=json_codec.loads,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose rows stay readable after commit, to be converted into messages."""
    return async_sessionmaker(engine, expire_on_commit=False)
