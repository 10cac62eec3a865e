"""Alembic environment of the catalog.

The database URL comes from the caller (`services.catalog.migrate` puts it in
`config.attributes`) or else from DATABASE_URL via the catalog settings. A
plain synchronous engine is used: psycopg 3 serves both modes from the same
URL, and migrations then run from any caller, event loop or not.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from services.catalog.db import models  # noqa: F401  (registers the tables on the metadata)
from services.catalog.db.base import Base
from services.catalog.settings import DatabaseSettings
from services.kit.settings import load_settings


def _database_url() -> str:
    """The caller's URL, else DATABASE_URL."""
    url = context.config.attributes.get("database_url")
    return url or load_settings(DatabaseSettings).database_url


def _configure(**kwargs) -> None:
    """Options shared by offline and online runs."""
    context.configure(target_metadata=Base.metadata, compare_type=True, compare_server_default=True, **kwargs)


if context.is_offline_mode():
    _configure(url=_database_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(_database_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
