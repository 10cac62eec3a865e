"""The supervisor restarts a dead child, naming it; a crash loop or SIGINT/SIGTERM stops everything, last first."""

from __future__ import annotations

import fcntl
import io
import os
import signal
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from deploy.embedded.errors import StartupError
from deploy.embedded.lineup import Role, Service
from deploy.embedded.probes import Ready
from deploy.embedded.process import spawn
from deploy.embedded.restart import RestartPolicy
from deploy.embedded.stack import Stack
from deploy.embedded.supervisor import ProcessSpec, Supervisor

SLEEPER = "import time; time.sleep(60)"


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def recorder(path: Path) -> str:
    """A child that notes when SIGTERM reached it, then exits; it says it is ready by creating `path`."""
    return (
        "import signal, sys, time, pathlib\n"
        f"out = pathlib.Path({str(path)!r})\n"
        "def stop(signum, frame):\n"
        "    out.write_text(str(time.monotonic_ns()))\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "out.write_text('ready')\n"
        "while True: time.sleep(1)\n"
    )


def file_says_ready(path: Path) -> Ready:
    def check() -> None:
        assert path.read_text() == "ready"

    return Ready(check, f"{path.name} ready", timeout=30)


FAST = RestartPolicy(limit=3, window=60, first_delay=0.05, max_delay=0.2)


def crash_once(mark: Path, code: int = 3) -> str:
    """A child that prints 'boom' and exits with `code` on its first run, and sleeps on later runs."""
    return (
        "import pathlib, sys, time\n"
        f"mark = pathlib.Path({str(mark)!r})\n"
        "if not mark.exists():\n"
        "    mark.write_text('crashed')\n"
        "    print('boom', flush=True)\n"
        f"    sys.exit({code})\n"
        "time.sleep(60)\n"
    )


def test_a_crashed_child_is_named_with_its_exit_code_and_log_and_restarted_alone(tmp_path: Path) -> None:
    report = io.StringIO()
    supervisor = Supervisor(log_dir=tmp_path, out=report, handle_signals=False, policy=FAST)
    supervisor.start(ProcessSpec("sleeper", python(SLEEPER)))
    supervisor.start(ProcessSpec("crasher", python(crash_once(tmp_path / "crashed"))))
    sleeper, first = supervisor.children
    supervisor.watch_in_background(interval=0.02)
    try:
        first.process.wait(10)
        second = supervisor.wait_running("crasher", timeout=10)
        assert second.pid != first.pid and second.alive()
        assert supervisor.children == [sleeper, second] and sleeper.alive()
        said = report.getvalue()
        assert "crasher exited with code 3" in said and "boom" in said
        assert "restarting crasher in 0.05s (crash 1 of 3 allowed within 60s)" in said
        assert f"crasher restarted (pid {second.pid})" in said
    finally:
        supervisor.stop_all()
    assert not sleeper.alive() and not second.alive() and supervisor.children == []


def test_a_crash_loop_stops_everything_and_names_the_process(tmp_path: Path) -> None:
    report = io.StringIO()
    supervisor = Supervisor(log_dir=tmp_path, out=report, handle_signals=False, policy=FAST)
    supervisor.start(ProcessSpec("sleeper", python(SLEEPER)))
    supervisor.start(ProcessSpec("crasher", python("import sys; print('no config'); sys.exit(2)")))
    sleeper = supervisor.children[0]

    died = supervisor.watch(interval=0.02)

    assert died is not None and died.name == "crasher"
    assert died.reason.startswith("crashed 4 times within 60s (last: exited with code 2): a crash loop")
    assert "no config" in died.log_tail
    assert supervisor.gave_up is died
    assert report.getvalue().count("restarting crasher in") == 3
    assert "crasher crashed 4 times" in report.getvalue() and "stopping everything" in report.getvalue()
    assert not sleeper.alive() and supervisor.children == []


def test_a_child_killed_by_a_signal_is_reported_as_such(tmp_path: Path) -> None:
    report = io.StringIO()
    supervisor = Supervisor(log_dir=tmp_path, out=report, handle_signals=False, policy=RestartPolicy(limit=0))
    supervisor.start(ProcessSpec("victim", python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")))
    died = supervisor.watch(interval=0.05)
    assert died is not None and "(last: was killed by SIGKILL)" in died.reason
    assert "victim was killed by SIGKILL" in report.getvalue()


def test_a_child_that_must_not_restart_takes_everything_down_when_it_dies(tmp_path: Path) -> None:
    supervisor = Supervisor(log_dir=tmp_path, out=io.StringIO(), handle_signals=False, policy=FAST)
    supervisor.start(ProcessSpec("sleeper", python(SLEEPER)))
    supervisor.start(ProcessSpec("fragile", python("import sys; sys.exit(5)"), restart=False))
    sleeper = supervisor.children[0]
    died = supervisor.watch(interval=0.02)
    assert died is not None and (died.name, died.reason) == ("fragile", "exited with code 5")
    assert not sleeper.alive()


def test_a_held_child_stays_down_without_counting_a_crash_until_released(tmp_path: Path) -> None:
    report = io.StringIO()
    # One crash allowed: a held kill counted as a crash would use it up.
    policy = RestartPolicy(limit=1, window=60, first_delay=0.05, max_delay=0.05)
    supervisor = Supervisor(log_dir=tmp_path, out=report, handle_signals=False, policy=policy)
    supervisor.start(ProcessSpec("server", python(SLEEPER)))
    first = supervisor.children[0]
    supervisor.watch_in_background(interval=0.02)
    try:
        supervisor.kill("server", hold=True)
        time.sleep(0.5)  # many looks at the processes: none may restart it
        assert supervisor.children == [first] and not first.alive()
        assert "restarting" not in report.getvalue()

        supervisor.release("server")
        second = supervisor.wait_running("server", timeout=10)
        assert second.pid != first.pid

        supervisor.kill("server")  # a crash: the one allowed restart
        third = supervisor.wait_running("server", timeout=10)
        assert third.pid != second.pid and supervisor.gave_up is None
    finally:
        supervisor.stop_all()


def test_a_restart_that_fails_counts_as_one_more_crash(tmp_path: Path) -> None:
    report = io.StringIO()
    supervisor = Supervisor(log_dir=tmp_path, out=report, handle_signals=False, policy=FAST)
    attempts = []

    def relaunch():
        attempts.append(time.monotonic())
        raise StartupError("server", "port 5432 is taken", "FATAL: could not bind")

    supervisor.adopt(spawn("server", python("pass"), log_path=tmp_path / "server.log"), relaunch)
    died = supervisor.watch(interval=0.02)
    assert died is not None and died.name == "server"
    assert "(last: did not come back: port 5432 is taken): a crash loop" in died.reason
    assert len(attempts) == FAST.limit
    assert "server did not come back: port 5432 is taken" in report.getvalue()


def test_what_a_dead_child_left_in_its_process_group_is_killed_before_the_restart(tmp_path: Path) -> None:
    # Like a PostgreSQL postmaster whose backends outlive it.
    grandchild_pid = tmp_path / "grandchild.pid"
    code = (
        "import pathlib, subprocess, sys, os\n"
        f"worker = subprocess.Popen([sys.executable, '-c', {SLEEPER!r}])\n"
        f"pathlib.Path({str(grandchild_pid)!r}).write_text(str(worker.pid))\n"
        "os._exit(1)\n"
    )
    supervisor = Supervisor(log_dir=tmp_path, out=io.StringIO(), handle_signals=False, policy=RestartPolicy(limit=0))
    supervisor.start(ProcessSpec("leader", python(code)))
    supervisor.children[0].process.wait(10)
    worker = psutil.Process(int(grandchild_pid.read_text()))
    assert worker.is_running()
    supervisor.watch(interval=0.02)
    worker.wait(5)
    assert not psutil.pid_exists(worker.pid) or worker.status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_stops_every_child_last_started_first(tmp_path: Path, signum: int) -> None:
    marks = [tmp_path / f"child-{i}.mark" for i in range(3)]
    report = io.StringIO()
    with Supervisor(log_dir=tmp_path, out=report) as supervisor:
        for i, mark in enumerate(marks):
            supervisor.start(ProcessSpec(f"child-{i}", python(recorder(mark)), ready=file_says_ready(mark)))
        children = list(supervisor.children)
        threading.Timer(0.2, os.kill, (os.getpid(), signum)).start()
        assert supervisor.watch(interval=0.05) is None

    assert all(not child.alive() for child in children)
    stopped_at = [int(mark.read_text()) for mark in marks]
    assert stopped_at == sorted(stopped_at, reverse=True)
    assert f"{signal.Signals(signum).name} received" in report.getvalue()


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    mark = tmp_path / "stubborn.mark"
    code = (
        "import signal, time, pathlib\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"pathlib.Path({str(mark)!r}).write_text('ready')\n"
        "time.sleep(60)\n"
    )
    supervisor = Supervisor(log_dir=tmp_path, stop_timeout=0.3, handle_signals=False)
    supervisor.start(ProcessSpec("stubborn", python(code), ready=file_says_ready(mark)))
    child = supervisor.children[0]
    supervisor.stop_all()
    assert child.exit_description() == "was killed by SIGKILL"


def test_a_failing_one_shot_task_stops_startup_with_its_output(tmp_path: Path) -> None:
    supervisor = Supervisor(log_dir=tmp_path, handle_signals=False)
    task = ProcessSpec("migrate", python("import sys; print('relation missing'); sys.exit(2)"), one_shot=True)
    with pytest.raises(StartupError) as failed:
        supervisor.start(task)
    assert failed.value.name == "migrate"
    assert "exited with code 2" in str(failed.value) and "relation missing" in str(failed.value)


def test_a_child_that_exits_before_ready_fails_at_once(tmp_path: Path) -> None:
    supervisor = Supervisor(log_dir=tmp_path, handle_signals=False)
    never = Ready(lambda: 1 / 0, "something that never happens", timeout=60)
    spec = ProcessSpec("quitter", python("raise SystemExit('no config')"), ready=never)
    with pytest.raises(StartupError, match="exited with code 1 before something that never happens") as failed:
        supervisor.start(spec)
    assert "no config" in failed.value.log_tail


def test_a_child_that_never_gets_ready_times_out_and_is_stopped(tmp_path: Path) -> None:
    supervisor = Supervisor(log_dir=tmp_path, handle_signals=False)
    never = Ready(lambda: 1 / 0, "readiness", timeout=0.5)
    with pytest.raises(StartupError, match=r"no readiness within 0.5s \(last check: ZeroDivisionError"):
        supervisor.start(ProcessSpec("slowpoke", python(SLEEPER), ready=never))
    assert not supervisor.children[0].alive()


def test_a_service_whose_module_does_not_exist_fails_before_anything_starts(tmp_path: Path) -> None:
    ghost = Service("ghost", "services.ghost_that_nobody_wrote", Role.GRPC)
    with pytest.raises(StartupError, match="python -m services.ghost_that_nobody_wrote: no such module"):
        Stack(tmp_path, services=(ghost,), handle_signals=False).start()
    assert not (tmp_path / "postgres").exists()


def test_a_data_directory_in_use_by_another_launcher_is_refused(tmp_path: Path) -> None:
    # Otherwise the second launcher takes the first one's servers for orphans and stops them.
    with open(tmp_path / "launcher.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242\n")
        held.flush()
        with pytest.raises(StartupError, match=r"in use by another launcher \(pid 4242\)"):
            Stack(tmp_path, services=(), handle_signals=False).start()
    assert not (tmp_path / "postgres").exists()
