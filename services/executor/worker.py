"""Consumes jobs for one engine and carries each through to an acked outcome.

Order per job: StartRun (catalog marks the task STARTED and hands over the
config) -> load bars -> run -> write artifacts -> CompleteRun -> ack. The ack
comes last, so a crash anywhere before it means redelivery, and the catalog
ignores a second outcome for a run it already finished.
"""

from __future__ import annotations

import asyncio
import logging

import nats.errors
from google.protobuf import json_format, struct_pb2

from backtest.v1 import run_report_pb2 as rr
from backtest.v1.run_report_pb2_grpc import RunReportServiceStub
from services.adapters.bus import Bus, Job
from services.adapters.object_store import ObjectStore
from services.domain.run_config import ResolvedBacktest, resolve_backtest
from services.executor.artifacts import write_artifacts
from services.executor.bars import BarCache
from services.executor.failures import backoff_seconds, describe, is_transient
from services.executor.pipeline import run_batch

log = logging.getLogger(__name__)
CALL_TIMEOUT_S = 30.0
CONCURRENT_REPORTS = 8  # calls of one job in flight at once: below the catalog's pool of 10
_RUN_FIELDS = ("strategy_id", "engine", "initial_capital", "commission", "slippage", "config")


class RunFailed(Exception):
    """The run cannot succeed with this config and data; the reason is for the user."""


def resolve(backtest) -> ResolvedBacktest:
    """Rebuilds the validated run from the Backtest record the catalog sent."""
    # Zero values must come through: commission 0 is a choice, not "use the default".
    fields = json_format.MessageToDict(
        backtest, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    if not fields["config"].get("feature_ids"):
        fields["config"].pop("feature_ids", None)
    return resolve_backtest({key: fields[key] for key in _RUN_FIELDS if key in fields})


class Worker:
    """Runs jobs of one executor process.

    bus: job stream connection.
    store: artifact store.
    bars: bar cache over the same store.
    reporter: RunReportService stub on the catalog.
    executor_id: this process's id, sent with StartRun.
    heartbeat_s: seconds between `in_progress` signals during a job.
    """

    def __init__(self, *, bus: Bus, store: ObjectStore, bars: BarCache, reporter: RunReportServiceStub,
                 executor_id: str, heartbeat_s: float) -> None:
        self.bus = bus
        self.store = store
        self.bars = bars
        self.reporter = reporter
        self.executor_id = executor_id
        self.heartbeat_s = heartbeat_s
        self.jobs_done = 0

    async def consume(self, engine: str, stop: asyncio.Event) -> None:
        """Pulls and handles jobs of `engine` one at a time until `stop` is set."""
        sub = await self.bus.pull(engine)
        while not stop.is_set():
            try:
                messages = await sub.fetch(1, timeout=2)
            except (nats.errors.TimeoutError, asyncio.TimeoutError):
                continue
            for message in messages:
                await self.handle(message)

    async def _heartbeat(self, message) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            await message.in_progress()

    async def handle(self, message) -> None:
        """Runs one delivered job and acks, naks with backoff, or fails it for good."""
        job = Job.decode(message.data)
        attempt = message.metadata.num_delivered
        last = attempt >= self.bus.topology.max_deliver
        context = {"job_id": job.job_id, "task_id": job.task_id, "attempt": attempt, "backtest_ids": job.backtest_ids}
        log.info("job received", extra=context)
        beat = asyncio.create_task(self._heartbeat(message))
        try:
            await self.run_job(job, attempt)
        except Exception as exc:
            reason = describe(exc)
            if is_transient(exc) and not last:
                log.warning("attempt failed, will retry", extra={**context, "reason": reason})
                await message.nak(delay=backoff_seconds(attempt))
                return
            log.error("job failed", extra={**context, "reason": reason}, exc_info=True)
            try:
                await self.fail(job, job.backtest_ids, reason)
            except Exception:
                # The catalog cannot take the outcome either: leave the job to
                # redelivery (or to the catalog's max-deliveries handler).
                await message.nak(delay=backoff_seconds(attempt))
                return
            await message.ack()
            return
        finally:
            beat.cancel()
        await message.ack()
        self.jobs_done += 1
        log.info("job done", extra=context)

    async def fail(self, job: Job, backtest_ids: list[str], reason: str) -> None:
        """Marks runs failed for good with `reason`."""
        for backtest_id in backtest_ids:
            await self.reporter.FailRun(
                rr.FailRunRequest(backtest_id=backtest_id, job_id=job.job_id, task_id=job.task_id, reason=reason, final=True),
                timeout=CALL_TIMEOUT_S,
            )

    async def run_job(self, job: Job, attempt: int) -> None:
        """Starts, runs and completes every backtest of `job` that is not finished yet."""
        # A batch's reports go out concurrently: the catalog serves them in
        # parallel, and one at a time they would dominate a sweep's time.
        responses = await self._bounded(self._start(job, backtest_id, attempt) for backtest_id in job.backtest_ids)
        starts = [response for response in responses if response.proceed]
        if not starts:
            return
        ids = [s.backtest.id for s in starts]
        try:
            runs = [resolve(s.backtest) for s in starts]
            bars = await self._bars(starts[0], runs[0])
            outcomes = await asyncio.to_thread(run_batch, runs, bars)
        except RunFailed as exc:
            await self.fail(job, ids, str(exc))
            return
        except Exception as exc:
            if is_transient(exc):
                raise
            await self.fail(job, ids, describe(exc))
            return
        await self._bounded(self._complete(job, backtest_id, outcome) for backtest_id, outcome in zip(ids, outcomes))

    async def _bounded(self, calls) -> list:
        """Awaits `calls` with at most CONCURRENT_REPORTS in flight; results in order."""
        gate = asyncio.Semaphore(CONCURRENT_REPORTS)

        async def one(call):
            async with gate:
                return await call

        return await asyncio.gather(*(one(call) for call in calls))

    async def _start(self, job: Job, backtest_id: str, attempt: int) -> rr.StartRunResponse:
        request = rr.StartRunRequest(
            backtest_id=backtest_id, job_id=job.job_id, task_id=job.task_id, executor_id=self.executor_id, attempt=attempt
        )
        return await self.reporter.StartRun(request, timeout=CALL_TIMEOUT_S)

    async def _complete(self, job: Job, backtest_id: str, outcome) -> None:
        equity_uri, trades_uri = await asyncio.to_thread(write_artifacts, self.store, backtest_id, outcome.result)
        metrics = struct_pb2.Struct()
        metrics.update(outcome.metrics)
        await self.reporter.CompleteRun(
            rr.CompleteRunRequest(backtest_id=backtest_id, job_id=job.job_id, task_id=job.task_id, metrics=metrics,
                                  equity_curve_uri=equity_uri, trades_uri=trades_uri),
            timeout=CALL_TIMEOUT_S,
        )

    async def _bars(self, start, run: ResolvedBacktest):
        config = run.config
        if not start.bars_uri:
            raise RunFailed(f"no market data stored for {config.symbol} {config.timeframe}")
        bars = await asyncio.to_thread(self.bars.window, start.bars_uri, start.bars_sha256, config.start, config.end)
        if bars.empty:
            raise RunFailed(
                f"no {config.timeframe} bars for {config.symbol} between {config.start_date} and {config.end_date}"
            )
        return bars
