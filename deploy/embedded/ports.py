"""Free TCP ports on the loopback interface, chosen below the kernel's ephemeral range.

A port the kernel hands out for `bind(0)` comes from its ephemeral range, the
same range every outgoing connection takes its local port from: between the
choice and the server's bind, any client socket on the machine (the stack's
own S3, PostgreSQL and gRPC connections, a parallel test worker's) could take
it, and the server failed with EADDRINUSE (seen once in a CI run, a gateway
started after its servers). Ports below the range are never given to
outgoing connections, so only another listener choosing the same port at
random in the same moment can collide.
"""

from __future__ import annotations

import errno
import random
import socket
from contextlib import ExitStack
from pathlib import Path

LOOPBACK = "127.0.0.1"
# Listening ports are drawn from [LOWEST_PORT, the ephemeral range's start); fewer than
# MIN_CHOICES there (an unusual kernel setting) and the kernel's bind(0) choice is used instead.
LOWEST_PORT = 15_000
MIN_CHOICES = 2_000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_ATTEMPTS = 200


def ephemeral_start(source: Path = _EPHEMERAL_RANGE) -> int | None:
    """The first port of the kernel's ephemeral range, or None when it cannot be read (not Linux)."""
    try:
        return int(source.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _bound(sock: socket.socket, host: str, port: int) -> bool:
    """Binds `sock` to host:port; False when the port is taken."""
    try:
        sock.bind((host, port))
    except OSError as err:
        if err.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        raise
    return True


def free_ports(count: int, *, host: str = LOOPBACK) -> list[int]:
    """Return `count` distinct ports that nothing is bound to right now, below the ephemeral range (see the module).

    All sockets stay bound until every port is chosen, so no port comes twice.
    Another listener may still take one between this call and the server
    binding it; servers fail loudly then.

    count: how many ports to return.
    host: the address the ports will be bound on.
    """
    start = ephemeral_start()
    below = start is not None and start - LOWEST_PORT >= MIN_CHOICES
    with ExitStack() as stack:
        ports: list[int] = []
        attempts = 0
        while len(ports) < count:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            if not below or attempts >= _ATTEMPTS:  # no room below the range, or all of it taken: the kernel's choice
                sock.bind((host, 0))
                ports.append(sock.getsockname()[1])
                continue
            attempts += 1
            port = random.randrange(LOWEST_PORT, start)
            if port not in ports and _bound(sock, host, port):
                ports.append(port)
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
