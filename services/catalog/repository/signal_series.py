"""The model-output series index: one row per stored series, describing its Parquet object."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.db.models import SignalSeries
from services.catalog.repository.views import SignalSeriesView
from services.domain.errors import NotFoundError

_series = SignalSeries.__table__


async def lock(session: AsyncSession, name: str) -> None:
    """Serialises writers of one series until the transaction ends, so its object and its row always match."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"signal-series {name}", 0))))


async def upsert(
    session: AsyncSession,
    name: str,
    *,
    symbols: list[str],
    start: datetime,
    end: datetime,
    rows: int,
    sha256: str,
    object_uri: str,
) -> SignalSeriesView:
    """Inserts or replaces the row of series `name`; `start` and `end` are aware datetimes."""
    values = {"symbols": symbols, "start": start, "end": end, "rows": rows, "sha256": sha256, "object_uri": object_uri}
    statement = (
        insert(_series)
        .values(name=name, **values)
        .on_conflict_do_update(index_elements=[_series.c.name], set_={**values, "updated_at": func.now()})
        .returning(*_series.c)
    )
    return SignalSeriesView.of((await session.execute(statement)).one())


async def get(session: AsyncSession, name: str) -> SignalSeriesView:
    """The series' row; NotFoundError naming it when none is stored."""
    row = (await session.execute(select(_series).where(_series.c.name == name))).one_or_none()
    if row is None:
        raise NotFoundError("signal series", name)
    return SignalSeriesView.of(row)


async def list_all(session: AsyncSession) -> list[SignalSeriesView]:
    """Every stored series, by name."""
    return [SignalSeriesView.of(row) for row in await session.execute(select(_series).order_by(_series.c.name))]


async def locations(session: AsyncSession, names: list[str]) -> dict[str, dict[str, Any]]:
    """{name: {uri, sha256}} of the stored series among `names`, as a job carries them."""
    if not names:
        return {}
    rows = await session.execute(
        select(_series.c.name, _series.c.object_uri, _series.c.sha256).where(_series.c.name.in_(names))
    )
    return {row.name: {"uri": row.object_uri, "sha256": row.sha256} for row in rows}
