"""Schema migrations of the catalog: `python -m services.catalog.migrate [upgrade|downgrade|check] [revision]`.

With no arguments it upgrades to head, which is idempotent; `make up` and
the tests run it before the service starts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alembic import command
from alembic.config import Config

from services.catalog.settings import DatabaseSettings
from services.kit.settings import load_settings

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    """An Alembic config without an ini file.

    database_url: the database to migrate.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Passed as an attribute, not a main option: the ini interpolation would mangle "%" in passwords.
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrates `database_url` up to `revision` (head by default)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Migrates `database_url` down to `revision` (base, an empty schema, by default)."""
    command.downgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Raises when the models and the migrated schema of `database_url` differ."""
    command.check(alembic_config(database_url))


def main(argv: list[str] | None = None) -> None:
    """Command line entry point; DATABASE_URL names the database."""
    parser = argparse.ArgumentParser(prog="python -m services.catalog.migrate", description=__doc__)
    parser.add_argument("action", nargs="?", default="upgrade", choices=["upgrade", "downgrade", "check"])
    parser.add_argument("revision", nargs="?", help="target revision (head for upgrade, base for downgrade)")
    args = parser.parse_args(argv)
    url = load_settings(DatabaseSettings).database_url
    if args.action == "check":
        check(url)
    elif args.action == "downgrade":
        downgrade(url, args.revision or "base")
    else:
        upgrade(url, args.revision or "head")


if __name__ == "__main__":
    main()
