"""The chaos suite's stack, its harness, and the table every run prints and writes.

The suite starts a stack of its own (not the e2e one: its faults must not
reach other tests), with the launcher's supervisor keeping it up from a
background thread as `make up` does in its main thread. The table goes to
the terminal and to var/chaos/report.md, the stack's logs to var/chaos/logs/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from deploy.embedded.lineup import REPO_ROOT
from deploy.embedded.stack import Stack
from tests.chaos.scenario import Chaos
from tests.chaos.verdict import Verdict, table, write_report
from tests.fixtures.servers import scratch_dir

REPORT_DIR = REPO_ROOT / "var" / "chaos"
# Redelivery 5 s after a silent executor instead of 30, and a heartbeat to match:
# a killed executor's job moves on within a scenario's time. Everything else
# is as deployed.
CHAOS_ENV = {"JOB_ACK_WAIT_S": "5", "EXECUTOR_HEARTBEAT_S": "1"}
_VERDICTS = pytest.StashKey[list[Verdict]]()


@pytest.fixture(scope="package")
def chaos_stack() -> Iterator[Stack]:
    """Servers, services, two executors and the gateway, restarted by the launcher when they crash."""
    with scratch_dir("chaos") as data_dir:
        (data_dir / "logs").mkdir()
        with open(data_dir / "logs" / "supervisor.log", "w") as supervisor_log:
            stack = Stack(
                data_dir,
                executors=2,
                # Durable as `make up` is: without synchronous commits a killed
                # PostgreSQL forgets the last commits it acknowledged.
                durable=True,
                handle_signals=False,
                watch_in_background=True,
                extra_env=CHAOS_ENV,
                out=supervisor_log,
            )
            try:
                with stack:
                    yield stack
            finally:
                # The logs outlive the scratch directory: they explain a failed scenario.
                shutil.rmtree(REPORT_DIR / "logs", ignore_errors=True)
                shutil.copytree(data_dir / "logs", REPORT_DIR / "logs")


@pytest.fixture(scope="package")
def chaos(chaos_stack: Stack, request: pytest.FixtureRequest) -> Iterator[Chaos]:
    """The harness: references, scenarios, and the verdicts, reported when the suite ends."""
    harness = Chaos(chaos_stack)
    began = time.strftime("%Y-%m-%d %H:%M")
    yield harness
    request.config.stash[_VERDICTS] = harness.verdicts
    if harness.verdicts:
        write_report(REPORT_DIR / "report.md", harness.verdicts, heading=_heading(began))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    verdicts = config.stash.get(_VERDICTS, [])
    if verdicts:
        terminalreporter.section("chaos scenarios")
        terminalreporter.write_line(table(verdicts))
        terminalreporter.write_line(f"(written to {REPORT_DIR / 'report.md'})")


def _heading(began: str) -> str:
    commit = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return (
        f"# Chaos scenarios, {began}, commit {commit or '?'}, {os.cpu_count()} cores\n\n"
        "runs: accepted runs; lost: ended failed; stuck: still running when the time was up; differ: "
        "completed but unlike the clean run of the config; recovery: seconds from the end of the fault "
        "until every probed endpoint answered 2xx and every run had ended."
    )
