"""`python -m bench [--only execution,sweeps]`: measure the platform on one embedded stack, print a table.

Sections that need no stack (expressions) run first, in this process; the
stack starts only when a section that needs it is chosen.

Benchmarks, not tests: every figure is printed with the baseline it is
compared with (measured in the same run) and PASS/MISS against its target;
a miss never fails the run. The stack keeps its data in BENCH_DATA_DIR (or
--data-dir) when given, so a second run skips loading the sample data;
otherwise in a temporary directory removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import (
    breakdown,
    downloads,
    execution,
    expressions,
    grid_search,
    imports,
    json_downloads,
    many_jobs,
    million_bars,
    reports,
    research_statistics,
    startup,
    sweeps,
)
from bench.report import Report
from bench.session import LocalSession, Options, Session
from deploy.embedded.errors import StartupError
from deploy.embedded.stack import Stack

# In this order the fleet only shrinks (2 -> 1 -> fresh 1 -> 0): no executor waits to warm up twice.
SECTIONS: dict[str, Callable[[Session], None]] = {
    "execution": execution.run,
    "many": many_jobs.run,  # 2 executors
    "downloads": downloads.run,
    "json": json_downloads.run,
    "imports": imports.run,
    "reports": reports.run,
    "sweeps": sweeps.run,
    "grid": grid_search.run,
    "startup": startup.run,
    "million": million_bars.run,  # after startup: the one fresh executor whose peak RSS it reads
    "breakdown": breakdown.run,
}
# Pure computations, timed in this process without the stack.
LOCAL_SECTIONS: dict[str, Callable[[LocalSession], None]] = {
    "expressions": expressions.run,
    "research": research_statistics.run,
}


def _sections(raw: str | None) -> list[str]:
    every = [*LOCAL_SECTIONS, *SECTIONS]
    if not raw:
        return every
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in every]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(every)}")
    return [name for name in every if name in names]  # always in the fleet-friendly order


def _run_section(name: str, run: Callable, session: LocalSession | Session, failed: list[str]) -> None:
    took = time.monotonic()
    try:
        run(session)
    except Exception:  # a broken measurement, not a slow one: report it, go on
        traceback.print_exc()
        failed.append(name)
        session.report.note(f"section {name} failed (traceback above); its figures are incomplete")
    print(f"bench: {name} took {time.monotonic() - took:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Runs the chosen sections on one stack and prints the table; 1 if a section broke."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        type=_sections,
        default=_sections(None),
        help=f"comma-separated sections (default all): {', '.join([*LOCAL_SECTIONS, *SECTIONS])}",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=os.environ.get("BENCH_DATA_DIR") or None,
        help="stack data directory, kept (default $BENCH_DATA_DIR, else a temporary one)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=Options.runs,
        help="timed runs per median, vectorbt sweeps included (default %(default)s)",
    )
    parser.add_argument(
        "--sweep-repeats",
        type=int,
        default=Options.sweep_repeats,
        help="backtrader sweeps timed per fleet size (default %(default)s)",
    )
    parser.add_argument(
        "--json-seconds",
        type=float,
        default=Options.json_seconds,
        help="seconds to read the million-point JSON equity curve (default %(default)s)",
    )
    args = parser.parse_args(argv)
    options = Options(runs=args.runs, sweep_repeats=args.sweep_repeats, json_seconds=args.json_seconds)
    failed: list[str] = []
    report = Report()
    local = LocalSession(options, report)
    began = time.monotonic()
    for name in args.only:
        if name in LOCAL_SECTIONS:
            _run_section(name, LOCAL_SECTIONS[name], local, failed)
    if not any(name in SECTIONS for name in args.only):
        print(f"\nbench: {time.monotonic() - began:.0f} s in all; results:\n", flush=True)
        report.print(sys.stdout)
        return 1 if failed else 0

    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        data_dir = args.data_dir or Path(scratch)
        print(f"bench: starting the embedded stack in {data_dir} (2 executors) ...", flush=True)
        began = time.monotonic()
        try:
            with Stack(data_dir, executors=2) as stack:
                print(f"bench: stack up in {time.monotonic() - began:.1f} s at {stack.gateway_url}", flush=True)
                session = Session(stack, options, report=report)
                load = os.getloadavg()[0]
                try:
                    for name in args.only:
                        if name in SECTIONS:
                            _run_section(name, SECTIONS[name], session, failed)
                finally:
                    session.client.close()
                    session.report.note(
                        f"{os.cpu_count()} CPUs; 1-minute load average {load:.1f} when the sections began,"
                        f" {os.getloadavg()[0]:.1f} at the end (other work on the machine skews figures)"
                    )
                    print(f"\nbench: {time.monotonic() - began:.0f} s in all; results:\n", flush=True)
                    session.report.print(sys.stdout)
        except StartupError as exc:
            print(f"bench: the stack did not start:\n{exc}", file=sys.stderr)
            return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
