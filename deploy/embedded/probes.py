"""Readiness checks for supervised processes."""

from __future__ import annotations

import socket
import urllib.request
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deploy.embedded.waiting import Probe


@dataclass(frozen=True)
class Ready:
    """When a process counts as started."""

    check: Probe
    """Returns once the process serves; raises with the reason while it does not."""
    what: str
    """What the check waits for, in words, for error messages."""
    timeout: float = 60.0
    """Seconds to wait at most."""
    interval: float = 0.2
    """Seconds between two checks; services take seconds to import, no need to ask more often."""


def tcp_open(host: str, port: int, *, timeout: float = 60.0) -> Ready:
    """Ready once something accepts TCP connections on host:port.

    host: address to connect to.
    port: port to connect to.
    timeout: seconds to wait at most.
    """

    def check() -> None:
        socket.create_connection((host, port), timeout=1).close()

    return Ready(check, f"TCP listener on {host}:{port}", timeout)


def http_ok(url: str, *, timeout: float = 60.0) -> Ready:
    """Ready once a GET of `url` answers 2xx.

    url: the URL to fetch.
    timeout: seconds to wait at most.
    """

    def check() -> None:
        with urllib.request.urlopen(url, timeout=2) as response:
            response.read()

    return Ready(check, f"HTTP 2xx from {url}", timeout)


def grpc_serving(address: str, *, service: str = "", timeout: float = 60.0) -> Ready:
    """Ready once the standard gRPC health service reports SERVING.

    address: host:port of the gRPC server.
    service: the service name to ask about; '' means the server as a whole.
    timeout: seconds to wait at most.
    """

    def check() -> None:
        with grpc.insecure_channel(address) as channel:
            request = health_pb2.HealthCheckRequest(service=service)
            response = health_pb2_grpc.HealthStub(channel).Check(request, timeout=2)
        if response.status != health_pb2.HealthCheckResponse.SERVING:
            raise RuntimeError(f"health is {health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)}")

    return Ready(check, f"gRPC health SERVING on {address}", timeout)
