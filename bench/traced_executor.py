"""A real executor `Worker` inside the bench process, with every step of its jobs timed.

No profiler is installed and service code stays as it is, so the bench runs
the executor's own Worker class on a thread, connected to the stack's NATS,
catalog and S3 like any executor, and wraps what it calls: the catalog stub
(StartRuns, CompleteRuns), the bar cache, and the worker module's
`simulate_batch`, `outcomes` (the metrics), `write_artifacts` and
`write_batch_artifacts` (patched in this process only, restored on exit).
Readings are `time.perf_counter()`, the clock the REST client uses, so
client and executor timelines line up exactly.

`python -m bench.traced_executor` runs one in a fresh process, warmed up
exactly as an executor warms up, and prints each job's trace as a JSON line
once its stdin is closed: the first job of a new process, step by step.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field

import grpc

import services.executor.worker as worker_module
from backtest.v1.run_report_pb2_grpc import RunReportServiceStub
from services.adapters.bus import Bus, Job, Topology
from services.adapters.object_store import ObjectStore, S3Location
from services.domain.engines import engine_names
from services.executor.bars import BarCache
from services.executor.outages import CATALOG, OBJECT_STORE, Dependencies
from services.executor.warm_up import warm_up
from services.executor.worker import Worker

ENGINE = "vectorbt"
PREFETCH_BYTES = 64 * 2**20  # BAR_PREFETCH_MB's default


@dataclass
class JobTrace:
    """One job as the executor lived it: when it arrived, its timed steps, when it was acked."""

    job_id: str
    received: float
    done: float | None = None
    spans: list[tuple[str, float, float]] = field(default_factory=list)

    def seconds(self, step: str) -> float:
        """Total time of every span named `step`."""
        return sum(end - begin for name, begin, end in self.spans if name == step)

    def wall(self, step: str) -> float:
        """First start to last end of the spans named `step` (concurrent calls counted once)."""
        spans = [(begin, end) for name, begin, end in self.spans if name == step]
        return max(end for _, end in spans) - min(begin for begin, _ in spans) if spans else 0.0

    def last_end(self, step: str) -> float:
        """When the last span named `step` ended."""
        return max(end for name, _, end in self.spans if name == step)


def _timed(fn, record, step: str, *, awaitable: bool = False):
    """`fn`, reporting (step, began, ended) to `record` after each call; awaited first when `awaitable`."""
    if awaitable:

        async def timed_async(*args, **kwargs):
            began = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                record(step, began, time.perf_counter())

        return timed_async

    def timed(*args, **kwargs):
        began = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            record(step, began, time.perf_counter())

    return timed


class _Timed:
    """Forwards attribute access to `inner`, timing the methods named in `methods` (method -> step).

    awaitable: the methods return awaitables (gRPC aio stub calls), timed until awaited.
    """

    def __init__(self, inner, record, methods: dict[str, str], *, awaitable: bool = False) -> None:
        self._inner, self._record, self._methods, self._awaitable = inner, record, methods, awaitable

    def __getattr__(self, name: str):
        target = getattr(self._inner, name)
        step = self._methods.get(name)
        return target if step is None else _timed(target, self._record, step, awaitable=self._awaitable)


async def _up() -> None:
    """A probe that always answers: the traced executor does not wait out outages."""


class TracedExecutor:
    """Context manager: a vectorbt consumer on the stack's job stream, tracing each job into `traces`.

    env: the stack's service environment (NATS_URL, CATALOG_ADDR, S3_*).
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.traces: list[JobTrace] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), name="traced-executor", daemon=True)
        self._saved = {
            name: getattr(worker_module, name)
            for name in ("simulate_batch", "outcomes", "write_artifacts", "write_batch_artifacts")
        }
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _record(self, step: str, began: float, ended: float) -> None:
        if self.traces:
            self.traces[-1].spans.append((step, began, ended))

    def __enter__(self) -> TracedExecutor:
        worker_module.simulate_batch = _timed(self._saved["simulate_batch"], self._record, "run")
        worker_module.outcomes = _timed(self._saved["outcomes"], self._record, "metrics")
        worker_module.write_artifacts = _timed(self._saved["write_artifacts"], self._record, "artifacts")
        worker_module.write_batch_artifacts = _timed(self._saved["write_batch_artifacts"], self._record, "artifacts")
        self._thread.start()
        if not self._ready.wait(60) or self._error:
            self.__exit__()
            raise RuntimeError(f"traced executor did not start: {self._error!r}")
        time.sleep(0.5)  # its first pull request reaches the server
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._ready.is_set() and self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        worker_module.__dict__.update(self._saved)

    async def _serve(self) -> None:
        env = self.env
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            store = ObjectStore(
                S3Location(
                    env["S3_ENDPOINT"],
                    env["S3_ACCESS_KEY"],
                    env["S3_SECRET_KEY"],
                    env["S3_BUCKET"],
                    env.get("S3_SECURE") == "true",
                )
            )
            bus = await Bus.connect(env["NATS_URL"], Topology(), name="bench-traced-executor")
            channel = grpc.aio.insecure_channel(env["CATALOG_ADDR"])
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            raise
        bars = BarCache(store)
        reporter = RunReportServiceStub(channel)
        # As services.executor does before its first pull: connections, reports, bar prefetch.
        await warm_up(
            engine_names(),
            channel=channel,
            store=store,
            reporter=reporter,
            bars=bars,
            prefetch_bytes=PREFETCH_BYTES,
        )
        worker = Worker(
            bus=bus,
            store=store,
            bars=_Timed(bars, self._record, {"window": "bars", "cached_window": "bars"}),
            series_files=BarCache(store, decode=bytes),
            reporter=_Timed(
                reporter, self._record, {"StartRuns": "StartRuns", "CompleteRuns": "CompleteRuns"}, awaitable=True
            ),
            executor_id="bench-traced-executor",
            heartbeat_s=5.0,
            # Probes that always answer: the bench stack has no outages to ride out.
            dependencies=Dependencies({CATALOG: _up, OBJECT_STORE: _up}),
            outage_window_s=30.0,
        )
        handle = worker.handle

        async def traced_handle(message) -> None:
            trace = JobTrace(Job.decode(message.data).job_id, time.perf_counter())
            self.traces.append(trace)
            try:
                await handle(message)
            finally:
                trace.done = time.perf_counter()

        worker.handle = traced_handle
        self._ready.set()
        try:
            await worker.consume(ENGINE, self._stop)
        finally:
            await channel.close()
            # Not bus.close(): its drain() waits out nats-py's 30 s drain timeout with a bound
            # pull subscription (the stack's executors hit the same and are SIGKILLed on stop).
            await bus.nc.close()


def main() -> int:
    """Warms up like an executor, traces jobs until stdin closes, then prints one JSON trace per line."""
    with TracedExecutor(dict(os.environ)) as traced:
        print(json.dumps({"ready": True}), flush=True)
        sys.stdin.read()
    for trace in traced.traces:
        print(json.dumps(dataclasses.asdict(trace)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
