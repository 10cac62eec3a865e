"""Free TCP ports on the loopback interface."""

from __future__ import annotations

import socket
from contextlib import ExitStack

LOOPBACK = "127.0.0.1"


def free_ports(count: int, *, host: str = LOOPBACK) -> list[int]:
    """Return `count` distinct ports that nothing listens on right now.

    All sockets stay bound until every port is chosen, so the kernel cannot
    hand out the same port twice. A port may still be taken by someone else
    between this call and the server binding it; servers fail loudly then.

    count: how many ports to return.
    host: the address the ports will be bound on.
    """
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        return ports


def free_port(*, host: str = LOOPBACK) -> int:
    """Return one port that nothing listens on right now.

    host: the address the port will be bound on.
    """
    return free_ports(1, host=host)[0]


def port_in_use(port: int, *, host: str = LOOPBACK) -> bool:
    """Whether something accepts TCP connections on host:port.

    port: the port to try.
    host: the address to connect to.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
