"""`python -m deploy.embedded up|servers`: run the platform, or only its servers, until Ctrl-C or a crash loop."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from deploy.embedded.errors import StartupError
from deploy.embedded.settings import load
from deploy.embedded.stack import ENGINES_PATH, Stack


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, start, keep everything up until Ctrl-C or a crash loop; return the exit code.

    argv: arguments after the program name; sys.argv when None.
    """
    parser = argparse.ArgumentParser(prog="python -m deploy.embedded", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="servers, services and the REST gateway (port GATEWAY_PORT, 8080)")
    up.add_argument("--executors", type=int, default=2, help="executor processes to start (default 2)")
    servers = commands.add_parser("servers", help="only PostgreSQL, NATS and S3, on free ports")
    for command in (up, servers):
        command.add_argument("--data-dir", type=Path, default=Path("var"), help="kept between runs (default ./var)")
    args = parser.parse_args(argv)

    try:
        settings = load()
    except ValueError as exc:
        parser.error(str(exc))
    if args.command == "up":
        stack = Stack(args.data_dir, executors=args.executors, gateway_port=settings.gateway_port, settings=settings)
    else:
        stack = Stack(args.data_dir, services=(), settings=settings)
    print(f"starting in {stack.data_dir} (logs in {stack.log_dir}) ...", file=sys.stderr, flush=True)
    began = time.monotonic()
    try:
        stack.start()
    except StartupError as exc:
        print(f"\nstartup failed, everything stopped.\n{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted, everything stopped.", file=sys.stderr)
        return 130
    _report(stack, time.monotonic() - began, services=args.command == "up")
    return stack.wait()


def _report(stack: Stack, took: float, *, services: bool) -> None:
    """Print what runs where, how long each part took, and how to use it."""
    print("seconds until ready (tasks: until done; an executor: until started):")
    for name, seconds in stack.timings.items():
        print(f"  {name:<22} {seconds:6.2f}")
    if services:
        print(f"\nbacktest platform is up after {took:.1f}s: REST gateway at {stack.gateway_url}")
        print(f"  try: curl -s {stack.gateway_url}{ENGINES_PATH}")
    else:
        print(f"\nservers are up after {took:.1f}s; for a service started by hand:")
        for key, value in stack.env.items():
            if key.startswith(("DATABASE", "NATS", "S3_")):
                print(f"export {key}={value}")
    policy = stack.settings.restart_policy
    print(
        f"A process that dies is restarted; more than {policy.limit} restarts of one within {policy.window:g}s"
        " stop everything. Ctrl-C stops everything.",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
