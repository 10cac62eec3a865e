"""Execution use cases of the catalog, over the database and the bus.

The RPC mixins and the RunReportService servicer only convert and call
these; every transaction boundary of execution lives here.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.adapters.bus import Bus, Topology
from services.catalog.execution import cancel, outcomes
from services.catalog.execution.claim_group import ClaimGroup
from services.catalog.execution.dispatch import claim_backtest
from services.catalog.execution.grid_search import create_grid_search
from services.catalog.execution.liveness import CANCEL, Liveness, LivenessPath
from services.catalog.execution.outbox_relay import OutboxRelay
from services.catalog.execution.progress import Progress, ProgressWatch
from services.catalog.execution.sweeps import create_sweep
from services.catalog.execution.waiting import SettledEvents, wait_for_outcome
from services.catalog.repository import backtests, tasks
from services.catalog.repository.views import BacktestView, TaskView
from services.domain.errors import UnavailableError
from services.domain.grid_search import GridSearch
from services.domain.jobs import JobId
from services.domain.run_config import ResolvedBacktest
from services.domain.signal_logic import LogicVersion
from services.domain.signals import PLUGINS
from services.domain.signals.advertised import advertised_plugins
from services.domain.signals.schema import SignalPlugin
from services.domain.statuses import RunStatus
from services.kit.outages import unreachable_dependency

log = logging.getLogger(__name__)


class ExecutionService:
    """Dispatches runs and records their outcomes.

    sessions: session factory of the catalog database.
    autocommit: an engine on the same database whose connections stay in autocommit
        (db.engine.autocommit_engine), for the single-statement hot paths; the caller disposes it.
    nats_url: NATS server with JetStream.
    topology: bus names and limits.
    sync_timeout_s: how long a synchronous execute waits before answering 504.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        autocommit: AsyncEngine,
        nats_url: str,
        topology: Topology,
        sync_timeout_s: float,
        orphan_after_s: float = 120.0,
    ) -> None:
        self.sessions = sessions
        self.autocommit = autocommit
        self.nats_url = nats_url
        self.topology = topology
        self.sync_timeout_s = sync_timeout_s
        self.orphan_after_s = orphan_after_s
        self.bus: Bus
        self.relay: OutboxRelay
        self.liveness: Liveness
        self._stop = asyncio.Event()
        self._background: list[asyncio.Task] = []

    async def start(self) -> None:
        """Connects the bus, then starts the outbox relay and the orphan scan."""
        self.bus = await Bus.connect(self.nats_url, self.topology, name="catalog")
        self.relay = OutboxRelay(self.sessions, self.bus, autocommit=self.autocommit)
        self.claims = ClaimGroup(self.autocommit, self.bus.topology)
        self.liveness = Liveness(self.sessions, self.bus, self._announce)
        self.progress = ProgressWatch(self.sessions, self.bus)
        self.settled_events = SettledEvents()
        await self.settled_events.start(self.bus)
        self._background.append(asyncio.create_task(self.relay.run(self._stop)))
        self._background.append(asyncio.create_task(self._reap(self._stop)))

    async def stop(self) -> None:
        """Stops background work and closes the bus (pending outbox rows stay for the next start)."""
        self._stop.set()
        if self._background:
            self.relay.kick()
            await asyncio.gather(*self._background, return_exceptions=True)
            await self.relay.drain()
            await self.bus.close()

    async def _reap(self, stop: asyncio.Event) -> None:
        """Looks for orphaned runs every so often until `stop` is set."""
        period = min(30.0, self.orphan_after_s)
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=period)
                return
            except TimeoutError:
                pass
            try:
                await self.liveness.reap_orphans(older_than_s=self.orphan_after_s)
            except Exception:  # the database or NATS is away: try again next period
                log.warning("orphan scan failed", exc_info=True)

    async def execute_async(self, backtest_id: uuid.UUID) -> uuid.UUID:
        """Claims and dispatches a run; returns its task's id (the task is PENDING)."""
        # One statement, its own transaction (dispatch.claim_plain), shared with the executes
        # arriving meanwhile (claim_group): no BEGIN and COMMIT round trips, one statement for several.
        claimed = await self.claims.claim(backtest_id)
        if claimed is None:  # missing (404), running (409), or a run to bind: the transaction decides
            async with self.sessions.begin() as session:
                claimed = await claim_backtest(session, self.bus.topology, backtest_id)
        task_id, job = claimed
        await self.relay.publish_committed([job])
        log.info("dispatched", extra={"backtest_id": str(backtest_id), "task_id": str(task_id)})
        return task_id

    async def execute_sync(self, backtest_id: uuid.UUID) -> BacktestView:
        """Dispatches a run and waits for its outcome; DeadlineError after the timeout (the run goes on)."""
        with self.settled_events.registered(backtest_id) as waiter:  # before dispatching: no event slips past
            task_id = await self.execute_async(backtest_id)
            try:
                row = await wait_for_outcome(
                    waiter,
                    lambda: self._read_outcome(backtest_id),
                    job_id=str(JobId.for_execute(task_id)),
                    timeout=self.sync_timeout_s,
                )
                if row is None:
                    raise self.liveness.sync_timeout(backtest_id, self.sync_timeout_s)
                return row
            except Exception as exc:
                dependency = unreachable_dependency(exc)
                if dependency is None:
                    raise
                # The run is claimed and queued: it goes on, and the caller should know where to look.
                raise UnavailableError(
                    f"backtest {backtest_id} was dispatched and runs on (task {task_id}), but the {dependency}"
                    f" is unavailable, so its outcome cannot be read now; poll GET /api/v1/tasks/{task_id}"
                ) from exc

    async def _read_outcome(self, backtest_id: uuid.UUID) -> tuple[BacktestView, str | None]:
        """The backtest and the job holding it; NotFoundError if it was deleted."""
        async with self.autocommit.connect() as connection:
            # One SELECT needs no transaction: in autocommit it is one round trip, not BEGIN,
            # SELECT and ROLLBACK (a burst of small executes spent 12% of the catalog here).
            return await backtests.get_with_job(connection, backtest_id)

    async def sweep(
        self,
        runs: list[ResolvedBacktest],
        overrides: list[dict[str, Any]],
        *,
        rank_metric: str,
        logic: dict[str, LogicVersion],
    ) -> uuid.UUID:
        """Creates and dispatches a sweep; returns its task's id (the task is PENDING).

        logic: the signal logic versions the runs are bound to, by id.
        """
        workers = sum(1 for r in await self.bus.live_executors() if runs[0].engine in r.engines)
        async with self.sessions.begin() as session:
            task_id, jobs = await create_sweep(
                session, self.bus.topology, runs, overrides, rank_metric=rank_metric, workers=workers, logic=logic
            )
        await self.relay.publish_committed(jobs)
        log.info("sweep dispatched", extra={"task_id": str(task_id), "n_configs": len(runs), "workers": workers})
        return task_id

    async def grid_search(
        self,
        search: GridSearch,
        parameter_space: dict[str, list[Any]],
        *,
        top_n: int,
        logic: dict[str, LogicVersion],
    ) -> uuid.UUID:
        """Creates and dispatches a grid search; returns its task's id (the task is PENDING)."""
        engine = search.runs[0].backtest.engine
        workers = sum(1 for r in await self.bus.live_executors() if engine in r.engines)
        async with self.sessions.begin() as session:
            task_id, jobs = await create_grid_search(
                session, self.bus.topology, search, parameter_space, top_n=top_n, workers=workers, logic=logic
            )
        await self.relay.publish_committed(jobs)
        extra = {"task_id": str(task_id), "n_configs": len(search.runs), "jobs": len(jobs), "workers": workers}
        log.info("grid search dispatched", extra=extra)
        return task_id

    async def engines(self) -> list[str]:
        """Engines offered by at least one live executor."""
        return sorted({engine for record in await self.bus.live_executors() for engine in record.engines})

    async def plugins_for(self, keys: set[str]) -> Mapping[str, SignalPlugin]:
        """The plugins a run naming `keys` may use: built-in ones, and advertised ones when a key is not built in."""
        if keys <= PLUGINS.keys():
            return PLUGINS  # no registry read on the common path
        return {**advertised_plugins(await self.advertised_plugins()), **PLUGINS}

    async def advertised_plugins(self) -> list[dict[str, Any]]:
        """Signal plugins live executors offer from installed packages, one description per key, by key."""
        found: dict[str, dict[str, Any]] = {}
        for record in await self.bus.live_executors():
            for plugin in record.plugins:
                found.setdefault(plugin["key"], plugin)
        return [found[key] for key in sorted(found)]

    async def task(self, task_id: uuid.UUID) -> TaskView:
        """The task; NotFoundError when unknown."""
        async with self.sessions() as session:
            return await tasks.get(session, task_id)

    async def cancel(self, task_id: uuid.UUID) -> TaskView:
        """Cancels a task (the CANCEL path of the liveness table); returns it, REVOKED.

        NotFoundError when unknown, ConflictError naming its state when it already ended.
        """
        async with self.sessions.begin() as session:
            revocation = await cancel.cancel_task(session, task_id)
        seqs, skipped = list(revocation.stream_seqs), revocation.skipped
        revoked = list(revocation.revoked)
        # Runs a report held while the cancel ran: that report commits them (or not) within moments.
        for delay in (0.05, 0.2, 0.5, 1.0, 2.0):
            if not skipped:
                break
            await asyncio.sleep(delay)
            async with self.sessions.begin() as session:
                straggle = await cancel.revoke_stragglers(session, task_id)
            seqs += straggle.stream_seqs
            revoked += straggle.revoked
            skipped = straggle.skipped
        log.info(
            "task cancelled",
            extra={"task_id": str(task_id), "path": CANCEL.name, "revoked": len(revoked), "left_running": skipped},
        )
        # Jobs published just before the cancel whose rows were not marked yet: their sequences are here.
        await self._drop_queued_jobs(task_id, seqs + self.relay.sequences_of_task(str(task_id)))
        await self._announce(revoked, RunStatus.REVOKED)  # a synchronous execute waiting on one answers now
        await self._announce_task(task_id)
        return await self.task(task_id)

    async def _drop_queued_jobs(self, task_id: uuid.UUID, stream_seqs: list[int]) -> None:
        """Best effort: executors learn the task is revoked, and its jobs leave the queue unrun."""
        try:
            await self.bus.revoke_task(str(task_id))
            await asyncio.gather(*(self.bus.delete_job(seq) for seq in set(stream_seqs)))
        except Exception:  # NATS away: executors that get these jobs find their runs revoked and drop them
            log.warning("could not drop a cancelled task's queued jobs", extra={"task_id": str(task_id)}, exc_info=True)

    def watch(self, task_id: uuid.UUID) -> AsyncIterator[Progress]:
        """The task's progress now and at each change until it ends (services.catalog.execution.progress)."""
        return self.progress.watch(task_id)

    async def start_runs(self, job: JobId, backtest_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        """Counts an attempt; returns the runs still running (the others are settled: drop their results)."""
        async with self.autocommit.connect() as connection:
            # One statement (outcomes._START), its own transaction in autocommit: one round trip, not three.
            running = await outcomes.start_runs(connection, job, backtest_ids)
        if running:
            await self._announce_task(job.task_id)
        return running

    async def start_jobs(self, jobs: list[tuple[JobId, list[uuid.UUID]]]) -> list[list[uuid.UUID]]:
        """`start_runs` of several jobs, one transaction; per job, the runs still running."""
        if outcomes.separate_executes(jobs):  # a coalesced batch of executes: one autocommit statement
            async with self.autocommit.connect() as connection:
                running = await outcomes.start_executes(connection, jobs)
        else:
            async with self.sessions.begin() as session:
                running = await outcomes.start_jobs(session, jobs)
        for task_id in {job.task_id for (job, _), ids in zip(jobs, running, strict=True) if ids}:
            await self._announce_task(task_id)
        return running

    async def complete_jobs(self, jobs: list[tuple[JobId, list[outcomes.Success]]]) -> list[list[uuid.UUID]]:
        """`complete_runs` of several jobs, one transaction (a group commit); per job, the runs it settled."""
        if outcomes.separate_executes(jobs):  # executes (one, or a coalesced batch): one autocommit statement
            async with self.autocommit.connect() as connection:
                settled, rows = await outcomes.complete_executes(connection, jobs, self.settled_events.waited_for())
        else:
            async with self.sessions.begin() as session:
                settled, rows = await outcomes.complete_jobs_viewing(session, jobs, self.settled_events.waited_for())
        self.settled_events.deliver(rows)  # committed: synchronous executes waiting here answer with these rows
        for (job, _), ids in zip(jobs, settled, strict=True):
            # A run handed to this catalog's waiter needs no outcome event: its job's waiter is here (it
            # registered where it claimed), and a waiter elsewhere can only be an older job's, which
            # answers the same at its next recheck (as after a lost event). Its task's watchers still hear.
            await self._announce([i for i in ids if i not in rows], RunStatus.COMPLETED)
            if ids:
                await self._announce_task(job.task_id)
        return settled

    async def complete_runs(self, job: JobId, successes: list[outcomes.Success]) -> list[uuid.UUID]:
        """Commits successes, then tells waiters; returns the runs this call settled."""
        (settled,) = await self.complete_jobs([(job, successes)])
        return settled

    async def fail_runs(
        self, job: JobId, backtest_ids: list[uuid.UUID], path: LivenessPath, detail: str
    ) -> list[uuid.UUID]:
        """An executor's failure report: one of the liveness table's executor paths; returns the runs it settled."""
        return await self.liveness.executor_failed(job, backtest_ids, path, detail)

    async def _announce(self, backtest_ids: list[uuid.UUID], status: str, task_id: uuid.UUID | None = None) -> None:
        """Tells synchronous waiters of each settled run, and the task's watchers, after the commit."""
        for backtest_id in backtest_ids:
            await self.bus.publish_event(str(backtest_id), status)
        if backtest_ids and task_id is not None:
            await self._announce_task(task_id)

    async def _announce_task(self, task_id: uuid.UUID) -> None:
        """Wakes the task's watchers; a lost event costs them one recheck period."""
        try:
            await self.bus.publish_task_event(str(task_id))
        except Exception:  # NATS away: watchers re-read on their own
            log.warning("could not announce a task change", extra={"task_id": str(task_id)}, exc_info=True)
