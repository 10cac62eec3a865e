"""Collects artifact objects nothing references any more, once: `python -m services.catalog.collect_artifacts`.

    python -m services.catalog.collect_artifacts [--grace-s 86400] [--dry-run]

Reads DATABASE_URL and the S3_* settings like the catalog. Prints what it
deleted (or would delete, with --dry-run) as JSON. The catalog also runs a
collection every ARTIFACT_GC_INTERVAL_S; this command is for operators who
want one now, or turn the periodic one off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass

from services.adapters.object_store import LazyObjectStore, S3Location
from services.catalog.artifact_collection import collect
from services.catalog.db.engine import create_engine, session_factory
from services.catalog.settings import DatabaseSettings
from services.kit.connection_settings import S3Settings
from services.kit.settings import SettingsError, load_settings


@dataclass(frozen=True, kw_only=True)
class CollectionSettings(DatabaseSettings, S3Settings):
    """The database and the store: what a collection reads and deletes from."""


async def _run(settings: CollectionSettings, grace_s: float, dry_run: bool) -> dict:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        done = await collect(
            session_factory(engine), LazyObjectStore(S3Location.of(settings)), grace_s=grace_s, dry_run=dry_run
        )
    finally:
        await engine.dispose()
    return {"examined": done.examined, "deleted": done.deleted, "freed_bytes": done.freed_bytes, "dry_run": dry_run}


def main(argv: list[str] | None = None) -> int:
    """Runs one collection and prints its report; returns the exit status (2 for bad settings)."""
    parser = argparse.ArgumentParser(
        prog="python -m services.catalog.collect_artifacts", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--grace-s", type=float, default=86400.0, help="collect objects older than this (seconds)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(CollectionSettings)
    except SettingsError as err:
        print(err, file=sys.stderr)
        return 2
    print(json.dumps(asyncio.run(_run(settings, args.grace_s, args.dry_run)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
