"""Objects awaiting deletion (retired_objects): replaced series files, and uploads not yet committed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.db.models import RetiredObject, Series

_retired = RetiredObject.__table__
_series = Series.__table__


async def retire(session: AsyncSession, uri: str) -> None:
    """Marks `uri` for deletion from now on (a later retirement restarts its grace period)."""
    statement = insert(_retired).values(object_uri=uri)
    await session.execute(
        statement.on_conflict_do_update(index_elements=[_retired.c.object_uri], set_={"retired_at": func.now()})
    )


async def keep(session: AsyncSession, uri: str) -> None:
    """Takes `uri` off the list: a series names it now."""
    await session.execute(delete(_retired).where(_retired.c.object_uri == uri))


async def due(session: AsyncSession, cutoff: datetime) -> list[str]:
    """URIs retired before `cutoff` that no series names (a series naming one again keeps it)."""
    named = select(_series.c.object_uri).where(_series.c.object_uri == _retired.c.object_uri).exists()
    rows = await session.scalars(
        select(_retired.c.object_uri).where(_retired.c.retired_at < cutoff, ~named).order_by(_retired.c.retired_at)
    )
    return list(rows)


async def forget(session: AsyncSession, uris: list[str]) -> None:
    """Drops the rows of objects that are gone."""
    if uris:
        await session.execute(delete(_retired).where(_retired.c.object_uri.in_(uris)))
