"""Waiting for a started process: until it serves, until it finishes, or again on fresh ports."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

from deploy.embedded.errors import EmbeddedError, PortClash, StartupError
from deploy.embedded.process import Child

T = TypeVar("T")

Probe = Callable[[], object]
"""A readiness check: returns when the process serves, raises (with the reason) when not yet."""

# How the servers say that a port is taken: PostgreSQL and nats-server
# ("Address already in use"), weed ("port N ... is not available").
_PORT_TAKEN = ("address already in use", "is not available on")


def wait_ready(child: Child, probe: Probe, *, timeout: float, what: str, interval: float = 0.05) -> float:
    """Poll `probe` until it passes; return the seconds the process took to start.

    Fails at once when the process exits (with PortClash if it could not
    bind its port), after `timeout` seconds otherwise, with the probe's last
    complaint and the tail of the log; the process is stopped then.

    child: the process being waited for.
    probe: the readiness check; an EmbeddedError from it ends the wait at once.
    timeout: seconds to wait at most.
    what: what readiness means, for messages (e.g. 'gRPC health SERVING on 127.0.0.1:5001').
    interval: seconds between two probes.
    """
    started = time.monotonic()
    last_error = "no attempt yet"
    try:
        while True:
            if not child.alive():
                tail = child.log_tail()
                error = PortClash if any(s in tail.lower() for s in _PORT_TAKEN) else StartupError
                raise error(child.name, f"{child.exit_description()} before {what}", tail, child.log_path)
            try:
                probe()
                return time.monotonic() - started
            except EmbeddedError:
                raise
            except Exception as exc:  # any other failure only means "not yet"
                last_error = f"{type(exc).__name__}: {exc}".strip()
            if time.monotonic() - started > timeout:
                reason = f"no {what} within {timeout:g}s (last check: {last_error})"
                raise StartupError(child.name, reason, child.log_tail(), child.log_path)
            time.sleep(interval)
    except BaseException:
        child.stop()
        raise


def wait_exit(child: Child, *, timeout: float) -> float:
    """Wait for a one-shot process to exit with code 0; return the seconds it ran.

    child: the one-shot process.
    timeout: seconds to wait at most before killing it.
    """
    started = time.monotonic()
    try:
        child.process.wait(timeout)
    except BaseException as exc:
        child.stop()
        if isinstance(exc, subprocess.TimeoutExpired):
            reason = f"did not finish within {timeout:g}s"
            raise StartupError(child.name, reason, child.log_tail(), child.log_path) from None
        raise
    if child.process.returncode != 0:
        raise StartupError(child.name, child.exit_description(), child.log_tail(), child.log_path)
    return time.monotonic() - started


def on_fresh_ports(launch: Callable[[], T], *, fixed: bool, attempts: int = 3) -> T:
    """Call `launch`, and call it again when another process took one of its ports first.

    A port chosen free can be taken before the server binds it (several test
    sessions on one machine do that); a new choice nearly always succeeds.

    launch: starts the server on freshly chosen ports.
    fixed: the caller named the ports, so another choice is not ours to make.
    attempts: how many times to try.
    """
    for attempt in range(1, attempts + 1):
        try:
            return launch()
        except PortClash:
            if fixed or attempt == attempts:
                raise
    raise AssertionError("unreachable")
