"""The whole platform on one machine: the three servers, then the services, under one supervisor.

Every service process gets this environment (the contract between the
launcher and the services), on top of the launcher's own (PATH, HOME, ...)
and PYTHONUNBUFFERED=1:

    DATABASE_URL        postgresql+psycopg://postgres@127.0.0.1:<port>/backtest
    NATS_URL            nats://127.0.0.1:<port> (JetStream enabled)
    S3_ENDPOINT         127.0.0.1:<port> (host:port, as the minio client takes it)
    S3_ACCESS_KEY       access key id
    S3_SECRET_KEY       secret key
    S3_BUCKET           backtests (exists before any service starts)
    S3_SECURE           false
    GRPC_LISTEN         host:port this process's gRPC server binds (gRPC services only)
    CATALOG_ADDR        host:port of the catalog's gRPC server
    EXECUTOR_ID         executor-1, executor-2, ... (executors only)
    GATEWAY_HOST        127.0.0.1
    GATEWAY_PORT        REST port: 8080, or GATEWAY_PORT of the launcher's environment
    GATEWAY_DESCRIPTOR  absolute path of gen/descriptor.binpb
    GATEWAY_UPSTREAMS   backtest.v1.CatalogService=127.0.0.1:<p1>,backtest.v1.ResultsService=127.0.0.1:<p2>
    LOG_LEVEL           INFO, or LOG_LEVEL of the launcher's environment

A gRPC service is ready when the standard health service (grpcio-health-
checking) answers SERVING for the empty service name; the gateway when its
port accepts connections; a task when it exits with code 0; an executor as
soon as it runs, and the executor fleet when the gateway lists engines.
Which services run, in which order, is the list in `lineup.py`.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from deploy.embedded import settings as settings_module
from deploy.embedded.errors import StartupError
from deploy.embedded.lineup import REPO_ROOT, SERVICES, Role, Service, module_file
from deploy.embedded.nats import Nats, start_nats
from deploy.embedded.ports import LOOPBACK, free_port, port_in_use
from deploy.embedded.postgres import Postgres, start_postgres
from deploy.embedded.probes import Ready, grpc_serving, tcp_open
from deploy.embedded.s3 import S3, start_s3
from deploy.embedded.supervisor import ProcessSpec, Supervisor
from deploy.embedded.waiting import wait_ready

DESCRIPTOR = REPO_ROOT / "gen" / "descriptor.binpb"
BUCKET = "backtests"
ENGINES_PATH = "/api/v1/backtests/engines/available"


@dataclass
class Stack:
    """Servers and services started from one data directory; `with Stack(...) as stack:` starts and stops it."""

    data_dir: Path
    """Holds the servers' data, the logs (`logs/`) and first-run markers; kept between runs."""
    executors: int = 2
    """How many executor processes to start."""
    gateway_port: int | None = None
    """REST port; a free one when None."""
    services: tuple[Service, ...] = SERVICES
    """What to start after the servers; () for the servers alone."""
    durable: bool = True
    """False trades crash safety for speed (tests)."""
    wait_for_executors: bool = True
    """After starting, wait until the gateway lists the engines of live executors."""
    handle_signals: bool = True
    """Turn SIGINT/SIGTERM into an orderly stop (the command line wants it, pytest does not)."""
    out: TextIO | None = None
    """Where the supervisor reports; stderr when None."""
    extra_env: dict[str, str] = field(default_factory=dict)
    """Further variables for every service (e.g. JOB_ACK_WAIT_S for a failover test)."""
    settings: settings_module.Settings = field(default_factory=settings_module.load)
    """Environment-derived settings."""

    postgres: Postgres | None = field(default=None, init=False)
    """The database server, once started."""
    nats: Nats | None = field(default=None, init=False)
    """The JetStream server, once started."""
    s3: S3 | None = field(default=None, init=False)
    """The object store, once started."""
    grpc_addrs: dict[str, str] = field(default_factory=dict, init=False)
    """host:port of each gRPC service, by service name."""
    timings: dict[str, float] = field(default_factory=dict, init=False)
    """Seconds each server and service took to become ready, in start order."""
    supervisor: Supervisor | None = field(default=None, init=False)
    """Owner of every process, once started."""

    def __post_init__(self) -> None:
        self.data_dir = self.data_dir.resolve()
        self.log_dir = self.data_dir / "logs"
        self._lock: TextIO | None = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def gateway_url(self) -> str:
        """Base URL of the REST gateway."""
        return f"http://{LOOPBACK}:{self.gateway_port}"

    @property
    def catalog_addr(self) -> str | None:
        """host:port of the catalog's gRPC server."""
        return self.grpc_addrs.get("catalog")

    @property
    def results_addr(self) -> str | None:
        """host:port of the results service's gRPC server."""
        return self.grpc_addrs.get("results")

    @property
    def env(self) -> dict[str, str]:
        """The contract variables every service gets (see the module docstring)."""
        assert self.postgres and self.nats and self.s3, "servers not started"
        upstreams = [f"{s.upstream}={self.grpc_addrs[s.name]}" for s in self.services if s.upstream]
        return {
            "DATABASE_URL": self.postgres.url,
            "NATS_URL": self.nats.url,
            "S3_ENDPOINT": self.s3.endpoint,
            "S3_ACCESS_KEY": self.s3.access_key,
            "S3_SECRET_KEY": self.s3.secret_key,
            "S3_BUCKET": BUCKET,
            "S3_SECURE": "false",
            "CATALOG_ADDR": self.grpc_addrs.get("catalog", ""),
            "GATEWAY_HOST": LOOPBACK,
            "GATEWAY_PORT": str(self.gateway_port or ""),
            "GATEWAY_DESCRIPTOR": str(DESCRIPTOR),
            "GATEWAY_UPSTREAMS": ",".join(upstreams),
            "LOG_LEVEL": self.settings.log_level,
        }

    def start(self) -> Stack:
        """Start servers and services; on any failure stop what did start and raise StartupError."""
        self._check_services()
        self._lock_data_dir()
        self.supervisor = Supervisor(log_dir=self.log_dir, out=self.out, handle_signals=self.handle_signals)
        self.supervisor.__enter__()
        try:
            self._start_servers()
            self._start_services()
        except BaseException:
            self.stop()
            raise
        return self

    def wait(self) -> int:
        """Block until Ctrl-C/SIGTERM (returns 0) or until a process dies (returns 1); everything is stopped then."""
        assert self.supervisor is not None, "not started"
        return 0 if self.supervisor.watch() is None else 1

    def stop(self) -> None:
        """Stop every process, the last started first: services, then S3, NATS, PostgreSQL."""
        if self.supervisor is not None:
            self.supervisor.__exit__(None, None, None)
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    def _lock_data_dir(self) -> None:
        """Refuse a data directory another running launcher uses.

        Its servers would otherwise look like orphans of a crashed run and be
        stopped. The kernel drops the lock when its holder dies, however it dies.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = open(self.data_dir / "launcher.lock", "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            lock.close()
            raise StartupError("stack", f"{self.data_dir} is in use by another launcher (pid {holder})") from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        self._lock = lock

    def _check_services(self) -> None:
        """Fail before starting anything when a service cannot possibly start."""
        for service in self.services:
            if module_file(service.module) is None:
                reason = f"python -m {service.module}: no such module under {REPO_ROOT} (not written yet?)"
                raise StartupError(service.name, reason)
        if any(s.role is Role.GATEWAY for s in self.services):
            if self.gateway_port is None:
                self.gateway_port = free_port()
            elif port_in_use(self.gateway_port):
                raise StartupError("gateway", f"port {self.gateway_port} is taken; set GATEWAY_PORT to another port")

    def _start_servers(self) -> None:
        assert self.supervisor is not None
        began = time.monotonic()
        self.postgres = start_postgres(self.data_dir / "postgres", log_path=self._log("postgres"), durable=self.durable)
        self.supervisor.adopt(self.postgres.child)
        self.timings["postgres"] = time.monotonic() - began
        began = time.monotonic()
        self.nats = start_nats(self.data_dir / "nats", log_path=self._log("nats"))
        self.supervisor.adopt(self.nats.child)
        self.timings["nats"] = time.monotonic() - began
        began = time.monotonic()
        self.s3 = start_s3(self.data_dir / "s3", buckets=(BUCKET,), log_path=self._log("s3"))
        self.supervisor.adopt(self.s3.child)
        self.timings["s3"] = time.monotonic() - began

    def _start_services(self) -> None:
        assert self.supervisor is not None
        for service in self.services:
            if service.role is Role.GRPC:
                self.grpc_addrs[service.name] = f"{LOOPBACK}:{free_port()}"
        for service in self.services:
            marker = self.data_dir / f"{service.name}.done"
            if service.first_run_only and marker.exists():
                continue
            for spec in self._specs(service):
                self.timings[spec.name] = self.supervisor.start(spec)
            if service.first_run_only:
                marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
        roles = {s.role for s in self.services}
        if self.wait_for_executors and self.executors and {Role.EXECUTOR, Role.GATEWAY} <= roles:
            self.timings["executors registered"] = self._wait_for_engines()

    def _specs(self, service: Service) -> list[ProcessSpec]:
        """The processes one entry of the list stands for: one, or one per executor."""
        env = self._service_env()
        argv = [sys.executable, "-m", service.module]
        ready: Ready | None = None
        if service.role is Role.EXECUTOR:
            return [self._executor_spec(service, i) for i in range(1, self.executors + 1)]
        if service.role is Role.GRPC:
            env["GRPC_LISTEN"] = self.grpc_addrs[service.name]
            ready = grpc_serving(env["GRPC_LISTEN"])
        elif service.role is Role.GATEWAY:
            assert self.gateway_port is not None
            ready = tcp_open(LOOPBACK, self.gateway_port)
        one_shot = service.role is Role.TASK
        return [ProcessSpec(service.name, argv, env=env, ready=ready, one_shot=one_shot, cwd=REPO_ROOT)]

    def _service_env(self) -> dict[str, str]:
        return {**self.settings.inherited_env, "PYTHONUNBUFFERED": "1", **self.env, **self.extra_env}

    def _executor_spec(self, service: Service, number: int) -> ProcessSpec:
        name = f"{service.name}-{number}"
        argv = [sys.executable, "-m", service.module]
        return ProcessSpec(name, argv, env={**self._service_env(), "EXECUTOR_ID": name}, cwd=REPO_ROOT)

    def start_executor(self) -> str:
        """Starts one more executor (not waiting for its warm-up) and returns its name."""
        assert self.supervisor is not None, "not started"
        service = next(s for s in self.services if s.role is Role.EXECUTOR)
        taken = {c.name for c in self.supervisor.children}
        number = next(i for i in range(1, 1000) if f"{service.name}-{i}" not in taken)
        spec = self._executor_spec(service, number)
        self.supervisor.start(spec)
        return spec.name

    def kill_executor(self, name: str) -> None:
        """SIGKILLs the executor `name` (a crash, not a shutdown) and stops watching it."""
        assert self.supervisor is not None, "not started"
        child = next(c for c in self.supervisor.children if c.name == name)
        child.process.kill()
        child.process.wait(timeout=10)
        self.supervisor.children.remove(child)

    def stop_executor(self, name: str) -> None:
        """Stops the executor `name` cleanly (SIGTERM, then SIGKILL after the supervisor's timeout)."""
        assert self.supervisor is not None, "not started"
        child = next(c for c in self.supervisor.children if c.name == name)
        self.supervisor.children.remove(child)
        child.stop(self.supervisor.stop_timeout)

    def log_path(self, name: str) -> Path:
        """The log file of process `name`."""
        return self._log(name)

    def _wait_for_engines(self, timeout: float = 180.0) -> float:
        """Wait until the executors have warmed up and registered, i.e. the gateway lists engines."""
        supervisor = self.supervisor
        assert supervisor is not None
        executor = next(s for s in self.services if s.role is Role.EXECUTOR)
        first = next(c for c in supervisor.children if c.name == f"{executor.name}-1")
        url = self.gateway_url + ENGINES_PATH

        def engines_listed() -> None:
            dead = supervisor.dead_child()
            if dead is not None:  # a crashed executor will never register
                raise StartupError(dead.name, dead.reason, dead.log_tail, dead.log_path)
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    engines = json.load(response).get("engines")
            except urllib.error.HTTPError as exc:
                raise RuntimeError(f"HTTP {exc.code}: {exc.read()[:300].decode(errors='replace')}") from None
            if not engines:
                raise RuntimeError(f"no engines listed yet: {engines!r}")

        what = f"engines listed at {url}"
        return wait_ready(first, engines_listed, timeout=timeout, what=what, interval=0.5)

    def _log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"
