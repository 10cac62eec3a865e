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

An executor fetches up to `coalesce_jobs` queued jobs at once. Single-run
jobs that share bars and engine (services.executor.coalescing) are computed
as one batch, written as one pair of batch files and reported with one
StartJobs and one CompleteJobs call (one catalog transaction each); every
message is still acked only once its own outcome is committed. A failure of
one run in a coalesced batch is its own: the batch is computed again run by
run, and only the run that fails is reported failed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable, Container, Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import nats.errors

from backtest.v1 import run_report_pb2 as rr
from backtest.v1.run_report_pb2_grpc import RunReportServiceStub
from services.adapters.bus import Bus, Job
from services.adapters.object_store import ObjectStore
from services.domain.errors import PlatformError
from services.domain.run_config import ResolvedBacktest, resolve_backtest
from services.executor.artifacts import write_artifacts, write_batch_artifacts
from services.executor.bars import BarCache
from services.executor.coalescing import batch_key, chunks, grouped, may_coalesce
from services.executor.job_fetch import take_jobs
from services.executor.outages import CATALOG, OBJECT_STORE, Dependencies, OutageTooLong, backoff_seconds
from services.executor.pipeline import RunOutcome, SignalInputs, outcomes, simulate_batch
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
# After a fetch of several jobs the executor counts as busy this long: its fetches wait gather_s for more.
BUSY_FOR_S = 1.0


# Metrics of runs whose files are being stored: one thread per job in flight.
_MEASURING = futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="run-metrics")


class RunFailed(Exception):
    """The run cannot succeed with this config and data; the reason is for the user."""


class _AfterEncoding:
    """A job's metrics, computed on a thread of their own from when its equity file is encoded.

    The equity file's encode and PUT are what CompleteRuns waits for; the metrics
    (~30 ms of CPU on a million bars) are not, as long as they are done by the end
    of the PUT. Started alongside the encode they took one of the two cores from
    it; started once it is done they compute while S3 stores the file.
    `start` may be called from any thread, and more than once (a retried upload).
    """

    def __init__(self, compute: Callable[[], Any]) -> None:
        self._compute = compute
        self._future: futures.Future | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Starts the computation unless it has started."""
        with self._lock:
            if self._future is None:
                self._future = _MEASURING.submit(self._compute)

    async def result(self) -> Any:
        """The computation's result (started now if it has not been)."""
        self.start()
        return await asyncio.wrap_future(self._future)

    async def settled(self) -> None:
        """Waits for a started computation to end, whatever its outcome (its result is retrieved)."""
        with self._lock:
            future = self._future
        if future is not None:
            await asyncio.gather(asyncio.wrap_future(future), return_exceptions=True)


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


@dataclass(eq=False)  # compared by identity: one object per delivered message
class Delivery:
    """One delivered job message, decoded.

    attempt: its delivery count (JetStream's num_delivered), from 1.
    context: the fields every log line about it carries.
    """

    message: object
    job: Job
    attempt: int
    context: dict


def _delivery(message) -> Delivery:
    job = Job.decode(message.data)
    attempt = message.metadata.num_delivered
    context = {"job_id": job.job_id, "task_id": str(job.task_id), "attempt": attempt, "backtest_ids": job.backtest_ids}
    return Delivery(message, job, attempt, context)


def _may_coalesce(message) -> bool:
    """Whether a delivered job could be computed with others (worth taking the queued ones with it)."""
    try:
        return may_coalesce(_delivery(message).job)
    except Exception:  # undecodable: its own path reports it; take nothing else with it
        return False


def _unexpected(context: dict, what: str) -> str:
    """Logs the exception being handled under a new error id; the reason users read."""
    error_id = uuid.uuid4().hex[:12]
    log.error(what, extra={**context, "error_id": error_id}, exc_info=True)
    return f"the executor failed while running the job (error id {error_id})"


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
    coalesce_jobs: most jobs fetched at once, and computed together when they can be; 1 turns coalescing off.
    gather_s: how long a busy executor's fetch waits for more jobs behind the first (job_fetch.take_jobs).
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
        coalesce_jobs: int = 16,
        gather_s: float = 0.02,
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
        self.coalesce_jobs = max(1, coalesce_jobs)
        self.gather_s = max(0.0, gather_s)
        self.jobs_done = 0

    async def consume(self, engine: str, stop: asyncio.Event) -> None:
        """Pulls and handles jobs of `engine` until `stop` is set; none while a dependency is down.

        A fetch waits for the first job, then, when that job could be computed with
        others, takes whatever else is queued at that moment (up to `coalesce_jobs`), and
        while the executor is busy (a fetch of the last BUSY_FOR_S held several jobs, or others
        are queued behind this one) those arriving within `gather_s` too: a lone job on a quiet executor
        is never held back, and jobs that only run one at a time (a sweep's, a grid
        search's) stay queued for whichever executor is free (services.executor.job_fetch).
        """
        sub = await self.bus.pull(engine)
        busy_until = 0.0  # until when the executor counts as busy: its takes wait a moment for more (job_fetch)
        while not stop.is_set():
            if self.dependencies.down():
                await self.dependencies.wait_until_up(stop)
                continue
            try:
                busy = time.monotonic() < busy_until
                messages = await take_jobs(
                    sub, self.coalesce_jobs, timeout=2, more=_may_coalesce, gather_s=self.gather_s, busy=busy
                )
            except (TimeoutError, nats.errors.Error):
                continue  # nothing queued, or NATS away: the client reconnects by itself
            if len(messages) > 1:
                busy_until = time.monotonic() + BUSY_FOR_S
            if len(messages) == 1:
                await self.handle(messages[0])
            else:
                await self.handle_many(messages)

    async def _heartbeat(self, held: dict) -> None:
        """Keeps the deliveries in `held` ours while their jobs run, wait their turn or wait out an outage.

        held: the messages by id() (they are not hashable); callers add and remove them as jobs settle.
        """
        while True:
            await asyncio.sleep(self.heartbeat_s)
            for message in list(held.values()):
                try:
                    await message.in_progress()
                except Exception:  # NATS away: the next beat may get through before the ack wait runs out
                    log.warning("heartbeat failed", exc_info=True)

    async def handle(self, message) -> None:
        """Runs one delivered job and acks it once its outcome is committed (or naks it, the catalog away)."""
        delivery = _delivery(message)
        if not await self._dropped_if_revoked(delivery):
            await self._handle_alone(delivery)

    async def _dropped_if_revoked(self, delivery: Delivery) -> bool:
        """Acks the job unrun when its task was cancelled: the catalog revoked its runs, there is nothing to report."""
        if delivery.job.task_id not in self.revoked:
            return False
        log.info("job of a cancelled task dropped unrun", extra=delivery.context)
        await self._ack(delivery.message, delivery.context)
        return True

    async def _handle_alone(self, delivery: Delivery) -> None:
        message, job, attempt, context = delivery.message, delivery.job, delivery.attempt, delivery.context
        log.info("job received", extra=context)
        beat = asyncio.create_task(self._heartbeat({id(message): message}))
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
            reason = _unexpected(context, "job failed unexpectedly")
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
        # The metrics compute while the equity file uploads (_AfterEncoding): numpy work
        # that releases the GIL, and only CompleteRuns needs them and the files both.
        metrics = _AfterEncoding(lambda: outcomes([run for _, run, _ in kept], [result for _, _, result in kept]))
        try:
            uris = await self._with(
                OBJECT_STORE, "store artifacts", lambda: self._write_artifacts(job, attempt, kept, metrics.start)
            )
        except BaseException:
            await metrics.settled()
            raise
        measured = await metrics.result()
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

    async def _write_artifacts(
        self, job: Job, attempt: int, kept: list, encoded: Callable[[], None]
    ) -> list[tuple[str, str]]:
        """(equity_curve_uri, trades_uri) per kept run: files of its own for one run, two batch files for more.

        encoded: called once the equity file is encoded, while it uploads.
        """
        if len(kept) == 1:
            ((backtest_id, _, result),) = kept
            write = write_artifacts
            return [await asyncio.to_thread(write, self.store, backtest_id, job.job_id, attempt, result, encoded)]
        runs = [(backtest_id, result) for backtest_id, _, result in kept]
        return await asyncio.to_thread(write_batch_artifacts, self.store, job.job_id, attempt, runs, encoded)

    async def _compute(self, job: Job) -> tuple[list[ResolvedBacktest], list] | None:
        """The job's runs and their engine results; None when they failed for a reason of their own (reported)."""
        try:
            runs = resolve_runs(job)
            bars = await self._with(OBJECT_STORE, "load bars", lambda: self._bars(job, runs[0]))
            inputs = await self._signal_inputs(job, runs, bars)
            return runs, await asyncio.to_thread(simulate_batch, runs, bars, inputs)
        except (RunFailed, SignalInputFailed) as exc:
            reason = str(exc)
        except PlatformError as exc:  # the engine or the config refused: the run's own reason, in its words
            reason = exc.message
        await self._report_failure(job, reason, rr.FAILURE_CAUSE_RUN_ERROR)
        return None

    async def _signal_inputs(self, job: Job, runs: list[ResolvedBacktest], bars) -> SignalInputs:
        """The job's signal logic and series; read on a worker thread, riding out a store outage, when it has series.

        A job naming no series reads nothing (a run that needs one fails without I/O), so it
        is resolved right here: no hop to a thread and back before the signal.
        """
        if not job.series:
            return signal_inputs(job, runs, bars, self.series_files)
        return await self._with(
            OBJECT_STORE,
            "load series",
            lambda: asyncio.to_thread(signal_inputs, job, runs, bars, self.series_files),
        )

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
        window = (job.bars_uri, job.bars_sha256, config.start, config.end)
        bars = self.bars.cached_window(*window)  # a cached series needs no worker thread
        if bars is None:
            bars = await asyncio.to_thread(self.bars.window, *window)
        if bars.empty:
            raise RunFailed(
                f"no {config.timeframe} bars for {config.symbol} between {config.start_date} and {config.end_date}"
            )
        return bars

    async def handle_many(self, messages: Sequence) -> None:
        """Handles several delivered jobs: those that share bars and engine together, the others one at a time."""
        held: dict[int, object] = {}  # by id(): messages are not hashable
        together: list[tuple[Delivery, ResolvedBacktest]] = []
        alone: list[Delivery] = []
        for message in messages:
            delivery = _delivery(message)
            if await self._dropped_if_revoked(delivery):
                continue
            held[id(message)] = message
            if delivery.attempt > self.bus.topology.max_deliver or not may_coalesce(delivery.job):
                alone.append(delivery)
                continue
            try:
                (run,) = resolve_runs(delivery.job)
            except Exception:  # its own path fails it with its own reason
                alone.append(delivery)
                continue
            together.append((delivery, run))
        # Messages waiting their turn are heartbeated too, so none outlives its ack wait while others run.
        hold = asyncio.create_task(self._heartbeat(held))
        try:
            for group in grouped(together, [batch_key(d.job, run) for d, run in together]):
                if len(group) == 1:
                    alone.append(group[0][0])
                else:
                    await self._run_coalesced(group, held)
            for delivery in alone:
                held.pop(id(delivery.message), None)  # its own heartbeat takes over
                await self._handle_alone(delivery)
        finally:
            hold.cancel()

    async def _run_coalesced(self, group: list[tuple[Delivery, ResolvedBacktest]], held: dict) -> None:
        """Computes, stores and reports single-run jobs that share bars as one batch; acks each once it is settled.

        An outage that outlasts the window fails the jobs still unsettled, as it
        would each alone; any other error of the shared steps sends each
        unsettled job down its own path (StartRuns counts one more attempt).
        """
        pending = [delivery for delivery, _ in group]
        log.info("jobs coalesced", extra={"job_ids": [d.job.job_id for d in pending], "jobs": len(pending)})
        try:
            await self._run_batch(group, pending, held)
        except OutageTooLong as exc:
            for delivery in list(pending):
                if await self._fail_after_outage(delivery.job, exc, delivery.context):
                    await self._finish(delivery, held, pending)
                else:
                    held.pop(id(delivery.message), None)
                    pending.remove(delivery)
                    await self._nak(delivery.message, delivery.attempt)
        except Exception:
            log.warning(
                "coalesced jobs failed together; running each on its own",
                extra={"job_ids": [d.job.job_id for d in pending]},
                exc_info=True,
            )
            for delivery in list(pending):
                held.pop(id(delivery.message), None)
                pending.remove(delivery)
                await self._handle_alone(delivery)

    async def _finish(self, delivery: Delivery, held: dict, pending: list[Delivery]) -> None:
        """Acks a job whose outcome is committed (or that has none left to report)."""
        await self._ack(delivery.message, delivery.context)
        held.pop(id(delivery.message), None)
        pending.remove(delivery)
        self.jobs_done += 1
        log.info("job done", extra=delivery.context)

    async def _run_batch(
        self, group: list[tuple[Delivery, ResolvedBacktest]], pending: list[Delivery], held: dict
    ) -> None:
        deliveries = [delivery for delivery, _ in group]
        start = asyncio.create_task(self._with(CATALOG, "StartJobs", lambda: self._start_jobs(deliveries)))
        try:
            computed = await self._compute_coalesced(group)
        except BaseException:
            await self._settle_start(start)
            raise
        pairs = zip(group, computed, strict=True)
        succeeded = [(d, run, result) for (d, run), result in pairs if not isinstance(result, str)]
        # Stored and measured while StartJobs is on its way: a run it then says is no longer
        # wanted leaves only an unread part of the batch files, collected with them.
        stored = asyncio.create_task(self._store_and_measure(succeeded)) if succeeded else None
        try:
            running = await start
        except BaseException:
            if stored is not None:
                await asyncio.gather(stored, return_exceptions=True)  # the upload finishes; its result is retrieved
            raise
        outcomes_of = dict(zip((id(d) for d, _, _ in succeeded), await stored, strict=True)) if stored else {}
        failed: list[tuple[Delivery, str]] = []
        reported: list[Delivery] = []
        request = rr.CompleteJobsRequest()
        for (delivery, _), result, still in zip(group, computed, running, strict=True):
            if not still:  # revoked, or settled by another delivery: nothing to report
                await self._finish(delivery, held, pending)
                continue
            if isinstance(result, str):
                failed.append((delivery, result))
                continue
            outcome, (equity_uri, trades_uri) = outcomes_of[id(delivery)]
            if isinstance(outcome, str):  # its metrics could not be computed
                failed.append((delivery, outcome))
                continue
            job = request.jobs.add(job_id=delivery.job.job_id)
            _add_outcome(job, delivery.job.backtest_ids[0], outcome, equity_uri, trades_uri)
            reported.append(delivery)
        if reported:
            await self._with(
                CATALOG, "CompleteJobs", lambda: self.reporter.CompleteJobs(request, timeout=SETTLING_TIMEOUT_S)
            )
        for delivery in reported:
            await self._finish(delivery, held, pending)
        for delivery, reason in failed:
            log.error("job failed", extra={**delivery.context, "reason": reason})
            await self._report_failure(delivery.job, reason, rr.FAILURE_CAUSE_RUN_ERROR)
            await self._finish(delivery, held, pending)

    async def _store_and_measure(self, succeeded: list) -> list[tuple[RunOutcome | str, tuple[str, str]]]:
        """Per run, (its outcome or why its metrics failed, its artifact URIs): metrics compute while files upload."""
        metrics = _AfterEncoding(lambda: _outcomes_each(succeeded))
        try:
            uris = await self._with(
                OBJECT_STORE, "store artifacts", lambda: self._write_coalesced(succeeded, metrics.start)
            )
        except BaseException:
            await metrics.settled()
            raise
        return list(zip(await metrics.result(), uris, strict=True))

    async def _write_coalesced(self, kept: list, encoded: Callable[[], None]) -> list[tuple[str, str]]:
        """(equity_curve_uri, trades_uri) per run: two batch files named after the first job's delivery.

        That delivery (job id, attempt) is in this batch alone, so the files are
        this batch's own, never overwritten under a run that points into them.
        encoded: called once the equity file is encoded, while it uploads.
        """
        if len(kept) == 1:
            ((delivery, _, result),) = kept
            job_id, backtest_id, attempt = delivery.job.job_id, delivery.job.backtest_ids[0], delivery.attempt
            write = write_artifacts
            return [await asyncio.to_thread(write, self.store, backtest_id, job_id, attempt, result, encoded)]
        leader = kept[0][0]
        runs = [(delivery.job.backtest_ids[0], result) for delivery, _, result in kept]
        write_batch = write_batch_artifacts
        return await asyncio.to_thread(write_batch, self.store, leader.job.job_id, leader.attempt, runs, encoded)

    async def _start_jobs(self, deliveries: list[Delivery]) -> list[bool]:
        """StartJobs for the coalesced jobs: whether each job's run is still to be done."""
        request = rr.StartJobsRequest()
        for delivery in deliveries:
            request.jobs.add(
                job_id=delivery.job.job_id,
                executor_id=self.executor_id,
                attempt=delivery.attempt,
                backtest_ids=delivery.job.backtest_ids,
            )
        response = await self.reporter.StartJobs(request, timeout=CALL_TIMEOUT_S)
        if len(response.jobs) != len(deliveries):
            raise RuntimeError(f"StartJobs answered for {len(response.jobs)} of {len(deliveries)} jobs")
        return [bool(answer.running_ids) for answer in response.jobs]

    async def _compute_coalesced(self, group: list[tuple[Delivery, ResolvedBacktest]]) -> list:
        """Each job's engine result, or the reason it failed for a reason of its own."""
        job, run = group[0][0].job, group[0][1]
        runs = [run for _, run in group]
        try:
            bars = await self._with(OBJECT_STORE, "load bars", lambda: self._bars(job, run))
            inputs = await self._signal_inputs(job, runs, bars)
        except (RunFailed, SignalInputFailed) as exc:  # the same for every job of the group: they share both
            return [str(exc)] * len(group)
        except PlatformError as exc:
            return [exc.message] * len(group)
        return await asyncio.to_thread(_simulate_each, group, bars, inputs)


def _simulate_each(group: Sequence[tuple[Delivery, ResolvedBacktest]], bars, inputs: SignalInputs) -> list:
    """Engine results of the group's runs, in order, batch by batch; a run that fails gives its reason instead.

    When a batch fails, its runs are computed again one by one, so a bad run fails alone and its
    neighbours get the results they would have had on their own.
    """
    results: list = []
    for part in chunks(group, len(bars)):
        try:
            results += simulate_batch([run for _, run in part], bars, inputs)
            continue
        except Exception:
            log.info("a coalesced batch failed; computing its runs one by one", exc_info=True)
        for delivery, run in part:
            try:
                results += simulate_batch([run], bars, inputs)
            except PlatformError as exc:  # the engine or the config refused: the run's own reason, in its words
                results.append(exc.message)
            except Exception:
                results.append(_unexpected(delivery.context, "job failed unexpectedly"))
    return results


def _outcomes_each(kept: list) -> list[RunOutcome | str]:
    """Each kept run's outcome with its metrics, or the reason (under an error id) they could not be computed."""
    measured: list[RunOutcome | str] = []
    for delivery, run, result in kept:
        try:
            measured += outcomes([run], [result])
        except Exception:
            measured.append(_unexpected(delivery.context, "job failed unexpectedly"))
    return measured


def _add_outcome(job: rr.CompleteRunsRequest, backtest_id: str, outcome: RunOutcome, equity: str, trades: str) -> None:
    reported = job.outcomes.add(backtest_id=backtest_id, equity_curve_uri=equity, trades_uri=trades)
    reported.metrics.update(outcome.metrics)
    if outcome.blocks is not None:
        reported.return_block_sums.extend(outcome.blocks[0])
        reported.return_block_squares.extend(outcome.blocks[1])
