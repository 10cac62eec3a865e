"""gateway/drain.sh, the gateway pod's preStop hook, against a stand-in for Envoy's admin API.

The script runs in bash as Kubernetes would run it; the stand-in is a real
HTTP server on a free loopback port that records the calls and reports
requests in flight as Envoy's /stats does.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

SCRIPT = "gateway/drain.sh"


class AdminStandIn(ThreadingHTTPServer):
    """Answers the admin calls drain.sh makes; in-flight requests fall by one per stats read."""

    def __init__(self, in_flight: int | None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.in_flight = in_flight  # None: never drains
        super().__init__(("127.0.0.1", 0), _AdminHandler)


class _AdminHandler(BaseHTTPRequestHandler):
    server: AdminStandIn

    def _answer(self) -> None:
        self.server.calls.append((self.command, self.path))
        body = b"OK\n"
        if self.path.startswith("/stats"):
            active = 3 if self.server.in_flight is None else self.server.in_flight
            body = f"http.admin.downstream_rq_active: 1\nhttp.rest.downstream_rq_active: {active}\n".encode()
            if self.server.in_flight:
                self.server.in_flight -= 1
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def admin(request: pytest.FixtureRequest) -> Iterator[AdminStandIn]:
    server = AdminStandIn(request.param)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _drain(root: Path, port: int, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    env = {"PATH": "/usr/bin:/bin", "ENVOY_ADMIN_PORT": str(port), "DRAIN_POLL_SECONDS": "0.05"}
    done = subprocess.run(["bash", str(root / SCRIPT), *args], env=env, capture_output=True, text=True, timeout=30)
    return done, time.monotonic() - started


@pytest.mark.parametrize("admin", [2], indirect=True)
def test_drain_fails_health_drains_listeners_and_waits_for_requests(root: Path, admin: AdminStandIn) -> None:
    done, _ = _drain(root, admin.server_address[1])
    assert done.returncode == 0, done.stderr
    assert admin.calls[:2] == [("POST", "/healthcheck/fail"), ("POST", "/drain_listeners?graceful")]
    stats = [path for method, path in admin.calls[2:] if method == "GET"]
    # Two requests in flight, then one, then none: three reads, and the script stops there.
    assert len(stats) == 3 and all(path.startswith("/stats") for path in stats)
    assert "no request in flight" in done.stdout


@pytest.mark.parametrize("admin", [None], indirect=True)
def test_drain_gives_up_at_its_deadline(root: Path, admin: AdminStandIn) -> None:
    done, took = _drain(root, admin.server_address[1], "2")
    assert done.returncode == 0  # the hook never blocks the stop beyond its deadline
    assert 1 <= took < 6  # bash counts whole seconds: at least 1 of the 2 has passed
    assert "still in flight (3)" in done.stderr


def test_drain_defaults_match_envoy_yaml(root: Path, envoy: dict[str, Any]) -> None:
    script = (root / SCRIPT).read_text()
    port = re.search(r"ADMIN_PORT=\$\{ENVOY_ADMIN_PORT:-(\d+)\}", script).group(1)
    assert int(port) == envoy["admin"]["address"]["socket_address"]["port_value"]
    (listener,) = envoy["static_resources"]["listeners"]
    prefix = listener["filter_chains"][0]["filters"][0]["typed_config"]["stat_prefix"]
    assert f"ACTIVE_STAT=http.{prefix}.downstream_rq_active" in script


def _gateway_pod(root: Path) -> dict[str, Any]:
    docs = yaml.safe_load_all((root / "deploy/k8s/gateway.yaml").read_text())
    (deployment,) = [d for d in docs if d and d["kind"] == "Deployment"]
    return deployment["spec"]["template"]["spec"]


def test_grace_period_outlasts_the_drain_and_a_sync_execute(root: Path, envoy: dict[str, Any]) -> None:
    pod = _gateway_pod(root)
    (container,) = pod["containers"]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:2] == ["/bin/bash", f"/app/{SCRIPT}"]
    drain_s = int(command[2])
    (config,) = yaml.safe_load_all((root / "deploy/k8s/config.yaml").read_text())
    sync_s = float(config["data"]["SYNC_EXECUTE_TIMEOUT_S"])
    routes = envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    (execute,) = [
        r
        for r in routes["route_config"]["virtual_hosts"][0]["routes"]
        if r["match"].get("path") == "/backtest.v1.CatalogService/ExecuteBacktest"
    ]
    route_s = float(execute["route"]["timeout"].rstrip("s"))
    # The hook waits out the longest request Envoy lets run, and Kubernetes waits out the hook.
    assert sync_s < route_s <= drain_s < pod["terminationGracePeriodSeconds"]
