"""PostgreSQL URLs in the forms the platform uses, and creating and dropping databases."""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg
from psycopg import sql

SQLALCHEMY_SCHEME = "postgresql+psycopg"


def to_libpq(url: str) -> str:
    """The URL without SQLAlchemy's driver suffix, as psycopg accepts it.

    url: a postgresql:// or postgresql+psycopg:// URL.
    """
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}"


def to_sqlalchemy(url: str) -> str:
    """The URL with the psycopg driver named, the form services get as DATABASE_URL.

    url: a postgresql:// or postgresql+psycopg:// URL.
    """
    _, sep, rest = to_libpq(url).partition("://")
    return f"{SQLALCHEMY_SCHEME}{sep}{rest}"


def with_database(url: str, name: str) -> str:
    """The same server's URL pointing at database `name`.

    url: a PostgreSQL URL, with or without a driver suffix.
    name: the database.
    """
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def create_database(url: str, name: str) -> bool:
    """Create database `name` unless it exists; return whether it was created.

    url: any database on the server, as a role allowed to create databases.
    name: the database to create.
    """
    with psycopg.connect(to_libpq(url), autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def drop_database(url: str, name: str) -> None:
    """Drop database `name`, disconnecting whoever still uses it.

    url: another database on the same server.
    name: the database to drop.
    """
    with psycopg.connect(to_libpq(url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
