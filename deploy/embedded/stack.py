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

Every long-running process, servers included, is restarted when it dies
(`supervisor.py`, `restart.py`); a server comes back on its data directory
and its port, since every service holds its URL.
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
from deploy.embedded.process import Child
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
    watch_in_background: bool = False
    """Keep the processes up from a thread of the launcher's from start() on, instead of only in wait() (tests)."""
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
        self.supervisor = Supervisor(
            log_dir=self.log_dir,
            out=self.out,
            handle_signals=self.handle_signals,
            policy=self.settings.restart_policy,
        )
        self.supervisor.__enter__()
        try:
            self._start_servers()
            self._start_services()
        except BaseException:
            self.stop()
            raise
        if self.watch_in_background:
            self.supervisor.watch_in_background()
        return self

    def wait(self) -> int:
        """Keep every process up until Ctrl-C/SIGTERM (returns 0) or a crash loop (returns 1); then stop everything."""
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
        for name, start in (("postgres", self._start_postgres), ("nats", self._start_nats), ("s3", self._start_s3)):
            began = time.monotonic()
            self.supervisor.adopt(start(), start)
            self.timings[name] = time.monotonic() - began

    # Each server starts again on the port it had (the services hold its URL) and on its data.

    def _start_postgres(self) -> Child:
        port = self.postgres.port if self.postgres else None
        directory, log = self.data_dir / "postgres", self._log("postgres")
        self.postgres = start_postgres(directory, port=port, log_path=log, durable=self.durable)
        return self.postgres.child

    def _start_nats(self) -> Child:
        ports = (self.nats.port, self.nats.monitor_port) if self.nats else (None, None)
        self.nats = start_nats(self.data_dir / "nats", port=ports[0], monitor_port=ports[1], log_path=self._log("nats"))
        return self.nats.child

    def _start_s3(self) -> Child:
        port = self.s3.port if self.s3 else None
        self.s3 = start_s3(self.data_dir / "s3", port=port, buckets=(BUCKET,), log_path=self._log("s3"))
        return self.s3.child

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

    def stop_executor(self, name: str) -> None:
        """Stops the executor `name` cleanly (SIGTERM, then SIGKILL after the supervisor's timeout)."""
        assert self.supervisor is not None, "not started"
        self.supervisor.forget(name).stop(self.supervisor.stop_timeout)

    def kill(self, name: str, *, hold: bool = False) -> None:
        """SIGKILLs process `name` (a server, a service, an executor) as a crash would.

        The supervisor restarts it as it restarts any crashed process, unless
        it is held: then it stays down until revive(name).

        name: 'postgres', 'nats', 's3', 'catalog', 'executor-1', ...
        hold: keep it down (an outage of a chosen length) without counting a crash.
        """
        assert self.supervisor is not None, "not started"
        self.supervisor.kill(name, hold=hold)

    def revive(self, name: str, *, timeout: float = 120.0) -> float:
        """Starts a process held down by kill(name, hold=True) and waits until it serves; returns the seconds taken.

        Needs watch_in_background (or wait() running in another thread) to do the restart.

        name: the process.
        timeout: seconds to wait at most.
        """
        assert self.supervisor is not None, "not started"
        began = time.monotonic()
        self.supervisor.release(name)
        self.supervisor.wait_running(name, timeout=timeout)
        return time.monotonic() - began

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
