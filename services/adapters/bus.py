"""The job bus: NATS JetStream work queue, executor registry and run events.

Subjects and names derive from one `Topology` so tests can share a NATS
server by giving each run its own namespace.

- Jobs: a work-queue stream; one subject and one durable pull consumer per
  engine, shared by every executor that offers the engine. A job's
  `Nats-Msg-Id` is its id, so republishing (outbox replay) is deduplicated.
- Registry: a KV bucket with a TTL; each executor re-puts its record while
  alive, so keys of dead executors expire on their own.
- Events: core NATS subjects `events.backtest.<id>`, published by the catalog
  after an outcome is committed; synchronous execute waits on them. And
  `events.task.<id>`, published after any commit that moves a task (a run
  started or settled, a cancel); WatchTask streams wake on them.
- Revoked tasks: a KV bucket with a TTL; the catalog puts a cancelled task's
  id, and executors keep the set in memory (`RevokedTasks`) to drop the
  task's jobs unrun, as Celery workers keep their revoked set.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import api
from nats.js.errors import BadRequestError, BucketNotFoundError, NotFoundError

from services.adapters import json_codec
from services.domain.engines import engine_names
from services.domain.jobs import JobId

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Topology:
    """Names of the bus's streams, subjects and buckets.

    namespace: prefix that isolates one deployment (or test) on a shared server.
    ack_wait: seconds a job may go without ack or heartbeat before redelivery.
    max_deliver: deliveries of one job that may end without an outcome (its executor died or stalled);
        executors fail a job that arrives once more, unrun (services/catalog/execution/liveness.py).
        JetStream itself redelivers without limit, so a job leaves the queue only through an ack.
    registry_ttl: seconds an executor's registry entry lives without a refresh.
    """

    namespace: str = ""
    ack_wait: float = 30.0
    max_deliver: int = 3
    registry_ttl: float = 15.0
    # A job of a cancelled task is at most this old when it reaches an executor (the catalog also deletes
    # queued ones from the stream); past it, StartRuns still tells the executor to drop the results.
    revoked_ttl: float = 86400.0

    @classmethod
    def of(cls, settings: Any) -> Topology:
        """The names and limits a service's bus settings (services.kit.connection_settings.BusSettings) describe."""
        return cls(
            namespace=settings.bus_namespace, ack_wait=settings.job_ack_wait_s, max_deliver=settings.job_max_deliver
        )

    @property
    def stream(self) -> str:
        """The work-queue stream of every engine's jobs."""
        return f"{self.namespace}BACKTEST_JOBS"

    def job_subject(self, engine: str) -> str:
        """The subject of `engine`'s jobs ("*" for every engine's)."""
        return f"{self.namespace}jobs.backtest.{engine}"

    def consumer(self, engine: str) -> str:
        """The durable pull consumer every executor offering `engine` shares."""
        return f"{self.namespace}executor-{engine}"

    @property
    def registry_bucket(self) -> str:
        """The KV bucket of live executors."""
        return f"{self.namespace}backtest_executors"

    def event_subject(self, backtest_id: str) -> str:
        """The core-NATS subject announcing a backtest's committed outcome."""
        return f"{self.namespace}events.backtest.{backtest_id}"

    def task_event_subject(self, task_id: str) -> str:
        """The core-NATS subject announcing that a task's row changed."""
        return f"{self.namespace}events.task.{task_id}"

    @property
    def revoked_bucket(self) -> str:
        """The KV bucket of cancelled tasks' ids."""
        return f"{self.namespace}backtest_revoked_tasks"


@dataclass(frozen=True)
class Job:
    """One unit of work for an executor: everything it needs to run, no catalog read first.

    job_id: unique id (services.domain.jobs.JobId), also the JetStream message id (dedupe key);
        it names the task whose progress the job advances.
    engine: engine every backtest of the job uses.
    backtest_ids: one backtest, or several that share bars and plugin (a broadcast batch).
    runs: parallel to backtest_ids, each run's fields as claimed (strategy_id,
        engine, initial_capital, commission, slippage, config); the executor
        resolves and validates them again.
    bars_uri: object-store URI of the runs' series; empty when none is stored.
    bars_sha256: SHA-256 of that stored series, for the executors' bar cache.
    signal_logic: for runs on a signal logic, the version they use (id, version, rule_tree,
        output_mode, position_mode); None for plugin runs.
    series: the model-output series the runs read, {name: {uri, sha256}}; a series not stored is absent.
    """

    job_id: str
    engine: str
    backtest_ids: list[str] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    bars_uri: str = ""
    bars_sha256: str = ""
    signal_logic: dict[str, Any] | None = None
    series: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def task_id(self) -> uuid.UUID:
        """The task the job's runs count towards, read from its id."""
        return JobId.parse(self.job_id).task_id

    def encode(self) -> bytes:
        """The job as the bus carries it (JSON)."""
        # vars(), not asdict(): asdict deep-copies every run's config first, which cost more than the dump.
        return json_codec.dumps(vars(self))

    @classmethod
    def decode(cls, data: bytes) -> Job:
        """The job `encode` wrote; fields a newer catalog adds are ignored."""
        raw = json_codec.loads(data)
        return cls(
            job_id=raw["job_id"],
            engine=raw["engine"],
            backtest_ids=list(raw["backtest_ids"]),
            runs=list(raw.get("runs", [])),
            bars_uri=raw.get("bars_uri", ""),
            bars_sha256=raw.get("bars_sha256", ""),
            signal_logic=raw.get("signal_logic"),
            series=dict(raw.get("series") or {}),
        )


@dataclass(frozen=True)
class ExecutorRecord:
    """What an executor announces in the registry.

    plugins: signal plugins it loaded from installed packages, each described as discovery
        shows it ({key, description, parameters (JSON Schema), source}).
    """

    executor_id: str
    engines: list[str]
    version: str
    plugins: list[dict[str, Any]] = field(default_factory=list)

    def encode(self) -> bytes:
        """The record as the registry stores it (JSON)."""
        return json.dumps(asdict(self)).encode()


class Bus:
    """A connection to NATS with the platform's topology."""

    def __init__(self, nc: Client, topology: Topology) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.topology = topology
        self._registry_kv = None

    @classmethod
    async def connect(cls, url: str, topology: Topology, *, name: str) -> Bus:
        """Connects and makes sure the stream, consumers and registry bucket exist.

        url: NATS server URL.
        topology: names and limits to use.
        name: client name shown in server monitoring.
        """
        nc = await nats.connect(url, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5)
        bus = cls(nc, topology)
        await bus.ensure_topology()
        return bus

    async def ensure_topology(self) -> None:
        """Creates (or updates) the job stream, one consumer per engine, and the registry."""
        t = self.topology
        config = api.StreamConfig(
            name=t.stream,
            # Every engine's subject, present and future: adding an engine needs no stream change.
            subjects=[t.job_subject("*")],
            retention=api.RetentionPolicy.WORK_QUEUE,
            storage=api.StorageType.FILE,
            duplicate_window=120.0,
        )
        try:
            await self.js.add_stream(config)
        except BadRequestError:
            await self.js.update_stream(config)
        for engine in engine_names():
            consumer = api.ConsumerConfig(
                durable_name=t.consumer(engine),
                filter_subject=t.job_subject(engine),
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=t.ack_wait,
                # Unlimited: the executor that receives delivery max_deliver + 1 fails the job and acks it
                # after the failure is committed. A server-side limit would drop the job from delivery with
                # nothing committed, and a run still `running` that nothing would ever finish.
                max_deliver=-1,
                max_ack_pending=1000,
            )
            await self.js.add_consumer(t.stream, consumer)
        try:
            await self.js.key_value(t.registry_bucket)
        except BucketNotFoundError:
            await self.js.create_key_value(api.KeyValueConfig(bucket=t.registry_bucket, ttl=t.registry_ttl))
        try:
            await self.js.key_value(t.revoked_bucket)
        except BucketNotFoundError:
            await self.js.create_key_value(api.KeyValueConfig(bucket=t.revoked_bucket, ttl=t.revoked_ttl))

    async def publish_job(self, job: Job) -> int:
        """Publishes `job` to its engine's subject and returns its stream sequence.

        A repeat of the same job_id is dropped (and answered with the first copy's sequence).
        """
        ack = await self.js.publish(
            self.topology.job_subject(job.engine), job.encode(), headers={"Nats-Msg-Id": job.job_id}
        )
        return ack.seq

    async def job_queued(self, stream_seq: int) -> bool:
        """Whether the job stored at `stream_seq` is still in the work queue (acked jobs leave it)."""
        try:
            await self.js.get_msg(self.topology.stream, stream_seq)
        except NotFoundError:
            return False
        return True

    async def delete_job(self, stream_seq: int) -> bool:
        """Removes the job stored at `stream_seq` from the work queue; False when it was gone already."""
        try:
            return await self.js.delete_msg(self.topology.stream, stream_seq)
        except NotFoundError:
            return False

    async def revoke_task(self, task_id: str) -> None:
        """Adds a cancelled task to the revoked set executors watch."""
        kv = await self.js.key_value(self.topology.revoked_bucket)
        await kv.put(task_id, b"")

    async def publish_task_event(self, task_id: str) -> None:
        """Tells watchers that the task's row changed (they read it again)."""
        await self.nc.publish(self.topology.task_event_subject(task_id), b"")

    async def subscribe_task_events(self, task_id: str):
        """Subscribes to change events of one task (subscribe before the first read)."""
        return await self.nc.subscribe(self.topology.task_event_subject(task_id))

    async def pull(self, engine: str):
        """Binds to the engine's shared durable consumer for fetching jobs."""
        t = self.topology
        return await self.js.pull_subscribe_bind(durable=t.consumer(engine), stream=t.stream)

    async def publish_event(self, backtest_id: str, status: str) -> None:
        """Tells waiters that the backtest's outcome is committed."""
        await self.nc.publish(self.topology.event_subject(backtest_id), json.dumps({"status": status}).encode())

    async def subscribe_events(self, backtest_id: str):
        """Subscribes to outcome events of one backtest (subscribe before dispatching)."""
        return await self.nc.subscribe(self.topology.event_subject(backtest_id))

    async def _registry(self):
        """The registry bucket's handle, looked up once: each lookup is a stream-info round trip."""
        if self._registry_kv is None:
            self._registry_kv = await self.js.key_value(self.topology.registry_bucket)
        return self._registry_kv

    async def register(self, record: ExecutorRecord) -> None:
        """Puts (or refreshes) an executor's registry entry; it expires after the TTL."""
        await (await self._registry()).put(record.executor_id, record.encode())

    async def unregister(self, executor_id: str) -> None:
        """Removes an executor's entry at clean shutdown."""
        await (await self._registry()).delete(executor_id)

    async def live_executors(self) -> list[ExecutorRecord]:
        """Records of every executor whose entry has not expired."""
        bucket = self.topology.registry_bucket
        kv = await self._registry()
        # The stream's per-subject counts name the keys without creating a
        # consumer (kv.keys() leaves one behind per call until it times out).
        prefix = f"$KV.{bucket}."
        info = await self.js.stream_info(f"KV_{bucket}", subjects_filter=f"{prefix}>")
        keys = [subject[len(prefix) :] for subject in (info.state.subjects or {})]
        entries = await asyncio.gather(*(kv.get(key) for key in keys), return_exceptions=True)
        records = []
        for entry in entries:
            if isinstance(entry, NotFoundError):
                continue  # expired between listing and reading
            if isinstance(entry, BaseException):
                raise entry
            if entry.value:
                raw = json.loads(entry.value)
                records.append(
                    ExecutorRecord(
                        raw["executor_id"], list(raw["engines"]), raw["version"], list(raw.get("plugins", []))
                    )
                )
        return records

    async def watch_revoked(self) -> RevokedTasks:
        """The revoked set, kept current in the background until its `stop`."""
        revoked = RevokedTasks(self)
        await revoked.start()
        return revoked

    async def close(self) -> None:
        """Flushes what was published and closes; unacked jobs go back to the queue."""
        if self.nc.is_connected:
            # Not drain(): with bound pull subscriptions it waits out its whole timeout.
            await self.nc.flush()
        await self.nc.close()


class RevokedTasks:
    """The ids of cancelled tasks, as an executor holds them: filled from the revoked bucket and kept current.

    A KV watcher delivers the bucket's keys, then each new one; if it fails (NATS away), it is made
    again. Membership is a set lookup, so checking every job costs nothing. A job checked before its
    task's key arrives runs anyway, and StartRuns tells the executor to drop its results.
    """

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.ids: set[str] = set()
        self._task: asyncio.Task | None = None

    def __contains__(self, task_id: object) -> bool:
        return str(task_id) in self.ids

    async def start(self) -> None:
        """Starts watching; returns once the keys already stored are in (or the first attempt failed)."""
        loaded = asyncio.Event()
        self._task = asyncio.create_task(self._watch(loaded))
        await loaded.wait()

    async def _watch(self, loaded: asyncio.Event) -> None:
        while True:
            try:
                kv = await self.bus.js.key_value(self.bus.topology.revoked_bucket)
                watcher = await kv.watchall(ignore_deletes=True)
                async for entry in watcher:
                    if entry is None:  # the stored keys are all in
                        loaded.set()
                        continue
                    self.ids.add(entry.key)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("revoked-task watch failed; watching again", exc_info=True)
            loaded.set()
            await asyncio.sleep(2.0)

    async def stop(self) -> None:
        """Stops watching."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
