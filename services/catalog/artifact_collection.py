"""Collects artifact objects that nothing references any more (services.domain.artifact_garbage decides which).

The catalog runs it every ARTIFACT_GC_INTERVAL_S (0 turns it off), and
`python -m services.catalog.collect_artifacts` runs it once, optionally as
a dry run. Deleting a backtest with `delete_artifacts=true` removes that
run's own objects at once (`remove_run_artifacts`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.adapters.object_store import LazyObjectStore, ObjectStore
from services.catalog import series_collection
from services.catalog.db.models import Backtest, Task
from services.domain.artifact_garbage import garbage, owner_of
from services.domain.errors import ValidationError
from services.domain.object_uris import ARTIFACT_PREFIX, parse_artifact_uri, run_artifact_prefix

log = logging.getLogger(__name__)
_b = Backtest.__table__.c
_t = Task.__table__.c


@dataclass(frozen=True)
class Collection:
    """What one pass did: objects looked at, keys deleted (or that would be, in a dry run), bytes freed."""

    examined: int
    deleted: list[str]
    freed_bytes: int


async def referenced_keys(session: AsyncSession, bucket: str) -> set[str]:
    """Object keys that some backtest's artifact URIs name (a batch run's fragment dropped)."""
    keys = set()
    rows = await session.execute(select(_b.trades_uri, _b.equity_curve_uri).where(_b.trades_uri.is_not(None)))
    for row in rows:
        for uri in row:
            try:
                keys.add(parse_artifact_uri(uri, bucket).key)
            except ValidationError:
                continue  # a URI of another shape names nothing we would collect
    return keys


async def collect(
    sessions: async_sessionmaker[AsyncSession], lazy_store: LazyObjectStore, *, grace_s: float, dry_run: bool = False
) -> Collection:
    """One pass: deletes the garbage objects older than `grace_s` seconds (or only lists them: `dry_run`)."""
    store = await asyncio.to_thread(lazy_store.get)
    objects = await asyncio.to_thread(store.list_objects, ARTIFACT_PREFIX)
    owners = [owner_of(item.key) for item in objects]
    run_ids = list({o.backtest_id for o in owners if o is not None and o.backtest_id is not None})
    task_ids = list({o.task_id for o in owners if o is not None and o.task_id is not None})
    async with sessions() as session:
        referenced = await referenced_keys(session, store.bucket)
        live_runs = set(await session.scalars(select(_b.id).where(_b.id.in_(run_ids)))) if run_ids else set()
        live_tasks = set(await session.scalars(select(_b.sweep_id).where(_b.sweep_id.in_(task_ids)).distinct()))
        # An execute task's job names the batch files of the jobs its executor coalesced with it.
        executes = select(_t.id).join(Backtest, _b.id == _t.backtest_id).where(_t.id.in_(task_ids))
        live_tasks |= set(await session.scalars(executes)) if task_ids else set()
    cutoff = datetime.now(UTC) - timedelta(seconds=grace_s)
    chosen = garbage(objects, referenced=referenced, live_backtests=live_runs, live_tasks=live_tasks, older_than=cutoff)
    keys = [item.key for item in chosen]
    if keys and not dry_run:
        refused = await asyncio.to_thread(store.remove_many, keys)
        keys = [key for key in keys if key not in set(refused)]
    freed = sum(item.size for item in chosen if item.key in set(keys))
    log.info(
        "artifact collection",
        extra={"examined": len(objects), "deleted": len(keys), "freed_bytes": freed, "dry_run": dry_run},
    )
    return Collection(len(objects), keys, freed)


async def remove_run_artifacts(
    session: AsyncSession, store: ObjectStore, backtest_id: uuid.UUID, uris: list[str | None]
) -> None:
    """Deletes a deleted run's artifacts: its own files (every job's), and a batch file no other backtest reads."""
    own = await asyncio.to_thread(store.list_objects, run_artifact_prefix(str(backtest_id)))
    keys = [item.key for item in own]
    for uri in uris:
        if not uri:
            continue
        try:
            ref = parse_artifact_uri(uri, store.bucket)
        except ValidationError:
            continue
        if ref.run_id is not None and await _read_by_others(session, store.uri(ref.key), backtest_id):
            continue
        if ref.key not in keys:
            keys.append(ref.key)
    if keys:
        await asyncio.to_thread(store.remove_many, keys)


async def _read_by_others(session: AsyncSession, file_uri: str, backtest_id: uuid.UUID) -> bool:
    """Whether another backtest's artifact URIs point into the batch file at `file_uri`."""
    part = f"{file_uri}#%"
    statement = (
        select(_b.id)
        .where(_b.id != backtest_id, (_b.trades_uri.like(part)) | (_b.equity_curve_uri.like(part)))
        .limit(1)
    )
    return await session.scalar(statement) is not None


async def run_periodically(
    sessions: async_sessionmaker[AsyncSession],
    store: LazyObjectStore,
    *,
    every_s: float,
    grace_s: float,
    stop: asyncio.Event,
) -> None:
    """A pass every `every_s` seconds until `stop` is set; a failed pass (store or database away) waits for the next."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_s)
            return
        except TimeoutError:
            pass
        try:
            await collect(sessions, store, grace_s=grace_s)
            # Replaced market-data versions share the period and the grace (services.catalog.series_collection).
            await series_collection.collect_retired(sessions, store, grace_s=grace_s)
        except Exception:
            log.warning("artifact collection failed; trying again next period", exc_info=True)
