"""The market-data series index: one row per stored (symbol, timeframe), describing its Parquet object."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.db.models import Series
from services.catalog.repository.views import SeriesView
from services.domain.errors import NotFoundError

_series = Series.__table__


async def lock(session: AsyncSession, symbol: str, timeframe: str) -> None:
    """Serialises writers of one series until the transaction ends, so its object and its row always match."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"series {symbol}/{timeframe}", 0))))


async def upsert(
    session: AsyncSession,
    symbol: str,
    timeframe: str,
    *,
    start: datetime,
    end: datetime,
    rows: int,
    sha256: str,
    object_uri: str,
) -> SeriesView:
    """Inserts or replaces the row of (symbol, timeframe); `start` and `end` are aware datetimes."""
    values = {"start": start, "end": end, "rows": rows, "sha256": sha256, "object_uri": object_uri}
    statement = (
        insert(_series)
        .values(symbol=symbol, timeframe=timeframe, **values)
        .on_conflict_do_update(
            index_elements=[_series.c.symbol, _series.c.timeframe], set_={**values, "updated_at": func.now()}
        )
        .returning(*_series.c)
    )
    return SeriesView.of((await session.execute(statement)).one())


async def get(session: AsyncSession, symbol: str, timeframe: str) -> SeriesView:
    """The series' row; NotFoundError naming it when none is stored."""
    row = (
        await session.execute(select(_series).where(_series.c.symbol == symbol, _series.c.timeframe == timeframe))
    ).one_or_none()
    if row is None:
        raise NotFoundError("series", f"{symbol}/{timeframe}")
    return SeriesView.of(row)


async def list_all(session: AsyncSession) -> list[SeriesView]:
    """Every stored series, by symbol then timeframe."""
    rows = await session.execute(select(_series).order_by(_series.c.symbol, _series.c.timeframe))
    return [SeriesView.of(row) for row in rows]


async def location(session: AsyncSession, symbol: str, timeframe: str) -> tuple[str, str]:
    """(object URI, sha256) of the stored series, as a job carries them; empty strings when none is stored."""
    row = (
        await session.execute(
            select(_series.c.object_uri, _series.c.sha256).where(
                _series.c.symbol == symbol, _series.c.timeframe == timeframe
            )
        )
    ).one_or_none()
    return (row.object_uri, row.sha256) if row is not None else ("", "")
