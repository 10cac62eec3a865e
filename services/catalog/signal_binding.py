"""Ties runs to what computes their signal: the signal logic version a run uses, and the series it reads.

A run on a signal logic has its $params checked against the logic's current
version and records that version (services.domain.signal_logic.bind_run),
when it is created and again when it is claimed: a later update of the
logic makes a new version, which only runs claimed afterwards use. The job
carries the version's tree and the location of every model-output series its
runs read, so executors need nothing from the catalog.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.repository import signal_logic, signal_series
from services.catalog.repository.backtests import run_fields
from services.domain.run_config import ResolvedBacktest, resolve_backtest
from services.domain.signal_logic import LogicVersion, bind_run, series_read_by
from services.domain.signals import SERIES_READERS
from services.domain.uuids import parse_uuid


async def logic_versions(session: AsyncSession, logic_ids: Iterable[str]) -> dict[str, LogicVersion]:
    """The current version of each logic, share-locked until commit (a delete waits); NotFoundError for one missing."""
    return {i: await signal_logic.current_version(session, uuid.UUID(i), share_lock=True) for i in set(logic_ids)}


async def bind(session: AsyncSession, run: ResolvedBacktest) -> tuple[ResolvedBacktest, LogicVersion | None]:
    """The run bound to its logic's current version (unchanged for a plugin run), and that version."""
    logic_id = run.config.signal_logic_id
    if logic_id is None:
        return run, None
    logic = (await logic_versions(session, [logic_id]))[logic_id]
    return bind_run(run, logic), logic


async def series_locations(
    session: AsyncSession, runs: Iterable[ResolvedBacktest], logic: LogicVersion | None
) -> dict[str, dict[str, Any]]:
    """{name: {uri, sha256}} of each stored series the runs read.

    A series not stored is left out: its runs fail, naming it, when the executor finds it missing.
    """
    names = sorted({name for run in runs for name in series_read_by(run.config, logic)})
    return await signal_series.locations(session, names)


def binder(logic: dict[str, LogicVersion]) -> Callable[[ResolvedBacktest], ResolvedBacktest]:
    """What a sweep applies to each resolved run: bind it to its logic's version from `logic` (preloaded by id)."""

    def bind_one(run: ResolvedBacktest) -> ResolvedBacktest:
        logic_id = run.config.signal_logic_id
        return run if logic_id is None else bind_run(run, logic[logic_id])

    return bind_one


def logic_ids(base_config: Any, overrides: Iterable[Any]) -> set[str]:
    """Signal logic ids a sweep's base config and overrides name (well-formed UUIDs only; the rest fail validation)."""
    found = set()
    for source in (base_config, *overrides):
        raw = source.get("signal_logic_id") if isinstance(source, dict) else None
        try:
            found.add(str(parse_uuid(raw)))
        except (TypeError, ValueError, AttributeError):
            continue
    return found


async def job_signal(
    session: AsyncSession, run: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """What a claimed run's job carries about its signal: (run fields, logic version, series locations).

    A run on a signal logic is bound to the logic's current version (recorded in its stored config by
    the caller); runs of plugins that read no series cost nothing here.
    """
    config = run["config"]
    if config.get("signal_logic_id") is None and config.get("signal_plugin_key") not in SERIES_READERS:
        return run, None, {}
    bound, logic = await bind(session, resolve_backtest(run))
    return (
        run_fields(bound.to_dict()),
        (logic.to_job() if logic else None),
        await series_locations(session, [bound], logic),
    )
