"""Consumes jobs for one engine and carries each through to an acked outcome.

The job carries its runs' configs and bars location, so computing starts at
once: StartRuns (the catalog counts the attempt and marks the task STARTED)
goes out while the bars load and the engine runs. Then, for the runs the
catalog says are still running: write artifacts -> CompleteRuns -> ack. One
report per job covers all its runs. The ack comes last, so a crash anywhere
before it means redelivery, and the catalog ignores a second outcome for a
run it already finished.

Every step that needs the catalog or the object store rides out an outage
(services.executor.outages): it is retried, what was computed is kept, and
the delivery is held by heartbeats, so an outage delays a run but does not
fail it, nor spend its delivery budget, unless it outlasts the outage window.
A run fails only for a reason of its own, in words with no exception class,
host or port: those go to the log under an error id.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Container

import nats.errors

from backtest.v1 import run_report_pb2 as rr
from backtest.v1.run_report_pb2_grpc import RunReportServiceStub
from services.adapters.bus import Bus, Job
from services.adapters.object_store import ObjectStore
from services.domain.errors import PlatformError
from services.domain.run_config import ResolvedBacktest, resolve_backtest
from services.executor.artifacts import write_artifacts, write_batch_artifacts
from services.executor.bars import BarCache
from services.executor.outages import CATALOG, OBJECT_STORE, Dependencies, OutageTooLong, backoff_seconds
from services.executor.pipeline import outcomes, simulate_batch
from services.executor.plugins import all_plugins
from services.executor.signal_inputs import SignalInputFailed, signal_inputs

log = logging.getLogger(__name__)
CALL_TIMEOUT_S = 30.0
# CompleteRuns and FailRuns may settle a search's last run, and that report ranks
# its leaderboard in the same transaction: CSCV over a 10,000-run grid search is
# seconds of CPU, and took 22 s of wall time on a loaded 2-core machine. A call
# cut short by its deadline is cancelled in the catalog and rolls back, so this
# bound must sit well above that.
SETTLING_TIMEOUT_S = 120.0


class RunFailed(Exception):
    """The run cannot succeed with this config and data; the reason is for the user."""


def resolve_runs(job: Job) -> list[ResolvedBacktest]:
    """Validates the job's runs again, as the catalog claimed them; RunFailed when the job carries none."""
    if not job.runs or len(job.runs) != len(job.backtest_ids):
        raise RunFailed("the job carries no run configuration (published by an older catalog?)")
    plugins = all_plugins()
    for fields in job.runs:
        key = fields.get("config", {}).get("signal_plugin_key")
        if key is not None and key not in plugins:
            raise RunFailed(
                f"signal plugin {key!r} is not installed on this executor (install its package on every executor)"
            )
    return [resolve_backtest(fields, plugins=plugins) for fields in job.runs]


class Worker:
    """Runs jobs of one executor process.

    bus: job stream connection.
    store: artifact store.
    bars: bar cache over the same store.
    series_files: cache of model-output series files over the same store.
    reporter: RunReportService stub on the catalog.
    executor_id: this process's id, sent with StartRuns.
    heartbeat_s: seconds between `in_progress` signals during a job.
    dependencies: which of the catalog and the store are reachable; probes them while they are not.
    outage_window_s: how long a step may wait for an unreachable dependency before its runs fail.
    revoked: ids of cancelled tasks (services.adapters.bus.RevokedTasks); their jobs are acked unrun.
    """

    def __init__(
        self,
        *,
        bus: Bus,
        store: ObjectStore,
        bars: BarCache,
        series_files: BarCache,
        reporter: RunReportServiceStub,
        executor_id: str,
        heartbeat_s: float,
        dependencies: Dependencies,
        outage_window_s: float,
        revoked: Container[object] = frozenset(),
    ) -> None:
        self.bus = bus
        self.store = store
        self.bars = bars
        self.series_files = series_files
        self.reporter = reporter
        self.executor_id = executor_id
        self.heartbeat_s = heartbeat_s
        self.dependencies = dependencies
        self.outage_window_s = outage_window_s
        self.revoked = revoked
        self.jobs_done = 0

    async def consume(self, engine: str, stop: asyncio.Event) -> None:
        """Pulls and handles jobs of `engine` one at a time until `stop` is set; none while a dependency is down."""
        sub = await self.bus.pull(engine)
        while not stop.is_set():
            if self.dependencies.down():
                await self.dependencies.wait_until_up(stop)
                continue
            try:
                messages = await sub.fetch(1, timeout=2)
            except (TimeoutError, nats.errors.Error):
                continue  # nothing queued, or NATS away: the client reconnects by itself
            for message in messages:
                await self.handle(message)

    async def _heartbeat(self, message) -> None:
        """Keeps the delivery ours while the job runs or waits out an outage."""
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await message.in_progress()
            except Exception:  # NATS away: the next beat may get through before the ack wait runs out
                log.warning("heartbeat failed", exc_info=True)

    async def handle(self, message) -> None:
        """Runs one delivered job and acks it once its outcome is committed (or naks it, the catalog away)."""
        job = Job.decode(message.data)
        attempt = message.metadata.num_delivered
        context = {
            "job_id": job.job_id,
            "task_id": str(job.task_id),
            "attempt": attempt,
            "backtest_ids": job.backtest_ids,
        }
        if job.task_id in self.revoked:
            # Its task was cancelled: the catalog revoked its runs already, so there is nothing to report.
            log.info("job of a cancelled task dropped unrun", extra=context)
            await self._ack(message, context)
            return
        log.info("job received", extra=context)
        beat = asyncio.create_task(self._heartbeat(message))
        try:
            if attempt > self.bus.topology.max_deliver:
                # Every earlier delivery's executor died or stalled, and the job may be what kills them.
                log.error("job exhausted its deliveries; failing it unrun", extra=context)
                await self._report_failure(job, "", rr.FAILURE_CAUSE_DELIVERIES_EXHAUSTED)
            else:
                await self.run_job(job, attempt)
        except OutageTooLong as exc:
            if not await self._fail_after_outage(job, exc, context):
                await self._nak(message, attempt)
                return
        except Exception:
            error_id = uuid.uuid4().hex[:12]
            log.error("job failed unexpectedly", extra={**context, "error_id": error_id}, exc_info=True)
            reason = f"the executor failed while running the job (error id {error_id})"
            if not await self._fail_after_outage(job, reason, context):
                await self._nak(message, attempt)
                return
        finally:
            beat.cancel()
        await self._ack(message, context)
        self.jobs_done += 1
        log.info("job done", extra=context)

    @staticmethod
    async def _ack(message, context: dict) -> None:
        try:
            await message.ack()
        except Exception:  # the outcome is committed: a redelivery finds the runs settled and drops them
            log.warning("ack failed", extra=context, exc_info=True)

    async def _fail_after_outage(self, job: Job, cause: OutageTooLong | str, context: dict) -> bool:
        """Reports the job's runs failed (one attempt, the window already spent); whether the catalog took it."""
        reason = str(cause)
        kind = rr.FAILURE_CAUSE_INFRASTRUCTURE if isinstance(cause, OutageTooLong) else rr.FAILURE_CAUSE_RUN_ERROR
        log.error("job failed", extra={**context, "reason": reason})
        try:
            await self.reporter.FailRuns(self._failure(job, reason, kind), timeout=SETTLING_TIMEOUT_S)
        except Exception:
            log.warning("could not report the failure; the job stays queued", extra=context, exc_info=True)
            return False
        return True

    async def _nak(self, message, attempt: int) -> None:
        try:
            await message.nak(delay=backoff_seconds(attempt))
        except Exception:  # NATS away too: the ack wait brings the job back
            log.warning("nak failed", exc_info=True)

    @staticmethod
    def _failure(job: Job, reason: str, cause: int) -> rr.FailRunsRequest:
        return rr.FailRunsRequest(job_id=job.job_id, backtest_ids=job.backtest_ids, reason=reason, cause=cause)

    async def _report_failure(self, job: Job, reason: str, cause: int) -> None:
        """Reports the job's runs failed for good, riding out a catalog outage."""
        request = self._failure(job, reason, cause)
        await self._with(CATALOG, "FailRuns", lambda: self.reporter.FailRuns(request, timeout=SETTLING_TIMEOUT_S))

    async def _with(self, dependency: str, what: str, step):
        return await self.dependencies.call(dependency, step, window_s=self.outage_window_s, what=what)

    async def run_job(self, job: Job, attempt: int) -> None:
        """Runs every backtest of `job` and reports those the catalog still expects."""
        # StartRuns travels while the engine computes: it only decides which
        # results are kept, so nothing waits for it before the run.
        start = asyncio.create_task(self._with(CATALOG, "StartRuns", lambda: self._start(job, attempt)))
        try:
            computed = await self._compute(job)
        except BaseException:
            await self._settle_start(start)
            raise
        running = set((await start).running_ids)
        if computed is None:  # failed for a reason of its own, and _compute has reported it
            return
        runs, results = computed
        kept = [
            (backtest_id, run, result)
            for backtest_id, run, result in zip(job.backtest_ids, runs, results, strict=True)
            if backtest_id in running
        ]
        if not kept:
            return
        # The metrics compute while the artifacts encode and upload: both are numpy and
        # Arrow work that releases the GIL, and only CompleteRuns needs them both.
        metrics = asyncio.create_task(
            asyncio.to_thread(outcomes, [run for _, run, _ in kept], [result for _, _, result in kept])
        )
        try:
            uris = await self._with(OBJECT_STORE, "store artifacts", lambda: self._write_artifacts(job, attempt, kept))
        except BaseException:
            await asyncio.gather(metrics, return_exceptions=True)  # the thread finishes; its result is retrieved
            raise
        measured = await metrics
        request = rr.CompleteRunsRequest(job_id=job.job_id)
        for (backtest_id, _, _), outcome, (equity_uri, trades_uri) in zip(kept, measured, uris, strict=True):
            reported = request.outcomes.add(backtest_id=backtest_id, equity_curve_uri=equity_uri, trades_uri=trades_uri)
            reported.metrics.update(outcome.metrics)
            if outcome.blocks is not None:
                reported.return_block_sums.extend(outcome.blocks[0])
                reported.return_block_squares.extend(outcome.blocks[1])
        await self._with(
            CATALOG, "CompleteRuns", lambda: self.reporter.CompleteRuns(request, timeout=SETTLING_TIMEOUT_S)
        )

    async def _write_artifacts(self, job: Job, attempt: int, kept: list) -> list[tuple[str, str]]:
        """(equity_curve_uri, trades_uri) per kept run: files of its own for one run, two batch files for more."""
        if len(kept) == 1:
            ((backtest_id, _, result),) = kept
            return [await asyncio.to_thread(write_artifacts, self.store, backtest_id, job.job_id, attempt, result)]
        runs = [(backtest_id, result) for backtest_id, _, result in kept]
        return await asyncio.to_thread(write_batch_artifacts, self.store, job.job_id, attempt, runs)

    async def _compute(self, job: Job) -> tuple[list[ResolvedBacktest], list] | None:
        """The job's runs and their engine results; None when they failed for a reason of their own (reported)."""
        try:
            runs = resolve_runs(job)
            bars = await self._with(OBJECT_STORE, "load bars", lambda: self._bars(job, runs[0]))
            inputs = await self._with(
                OBJECT_STORE,
                "load series",
                lambda: asyncio.to_thread(signal_inputs, job, runs, bars, self.series_files),
            )
            return runs, await asyncio.to_thread(simulate_batch, runs, bars, inputs)
        except (RunFailed, SignalInputFailed) as exc:
            reason = str(exc)
        except PlatformError as exc:  # the engine or the config refused: the run's own reason, in its words
            reason = exc.message
        await self._report_failure(job, reason, rr.FAILURE_CAUSE_RUN_ERROR)
        return None

    @staticmethod
    async def _settle_start(start: asyncio.Task) -> None:
        """Lets an abandoned StartRuns call finish, so its error is not logged as never retrieved."""
        try:
            await start
        except Exception:
            pass

    async def _start(self, job: Job, attempt: int) -> rr.StartRunsResponse:
        request = rr.StartRunsRequest(
            job_id=job.job_id,
            executor_id=self.executor_id,
            attempt=attempt,
            backtest_ids=job.backtest_ids,
        )
        return await self.reporter.StartRuns(request, timeout=CALL_TIMEOUT_S)

    async def _bars(self, job: Job, run: ResolvedBacktest):
        config = run.config
        if not job.bars_uri:
            raise RunFailed(f"no market data stored for {config.symbol} {config.timeframe}")
        bars = await asyncio.to_thread(self.bars.window, job.bars_uri, job.bars_sha256, config.start, config.end)
        if bars.empty:
            raise RunFailed(
                f"no {config.timeframe} bars for {config.symbol} between {config.start_date} and {config.end_date}"
            )
        return bars
