"""Deletes series objects that were retired (replaced versions, uploads a crash left uncommitted).

A replaced version stays in the store for ARTIFACT_GC_GRACE_S after it was
retired, so a run whose job names it (queued or running when the series
changed) still reads it whole; it goes once that time has passed, no series
names it again, and no running backtest reads bars with its SHA-256. The
catalog runs this beside the artifact collection (services.catalog.artifact_collection).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.adapters.object_store import LazyObjectStore
from services.catalog.db.models import Backtest
from services.catalog.repository import retired_objects
from services.domain.errors import ValidationError
from services.domain.statuses import RunStatus

log = logging.getLogger(__name__)
_b = Backtest.__table__.c


async def collect_retired(
    sessions: async_sessionmaker[AsyncSession], lazy_store: LazyObjectStore, *, grace_s: float
) -> list[str]:
    """One pass: deletes the retired series objects that are due; returns their URIs."""
    store = await asyncio.to_thread(lazy_store.get)
    cutoff = datetime.now(UTC) - timedelta(seconds=grace_s)
    async with sessions() as session:
        due = await retired_objects.due(session, cutoff)
        digests = {uri: _digest(uri) for uri in due}
        wanted = [d for d in digests.values() if d]
        reading = set()
        if wanted:
            running = select(_b.bars_sha256).where(_b.status == RunStatus.RUNNING, _b.bars_sha256.in_(wanted))
            reading = set(await session.scalars(running))
    chosen = [uri for uri in due if digests[uri] not in reading]
    keys = {}
    for uri in chosen:
        try:
            keys[store.key_of(uri)] = uri
        except ValidationError:
            keys[""] = uri  # names no object of this store: only the row goes
    refused = set(await asyncio.to_thread(store.remove_many, [key for key in keys if key])) if keys else set()
    gone = [uri for key, uri in keys.items() if key not in refused]
    async with sessions.begin() as session:
        await retired_objects.forget(session, gone)
    if gone:
        log.info("retired series objects deleted", extra={"deleted": len(gone)})
    return gone


def _digest(uri: str) -> str | None:
    """The SHA-256 a versioned series key carries (…/{sha256}.parquet), None for other keys."""
    name = uri.rsplit("/", 1)[-1].removesuffix(".parquet")
    return name if len(name) == 64 else None
