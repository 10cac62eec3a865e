"""The launcher's restart policy: doubling delays, a window that forgets, and where a crash loop begins."""

from __future__ import annotations

import pytest

from deploy.embedded import settings
from deploy.embedded.restart import CrashHistory, RestartPolicy


def test_each_crash_within_the_window_doubles_the_delay_up_to_the_cap() -> None:
    history = CrashHistory(RestartPolicy(limit=10, window=60, first_delay=0.5, max_delay=4))
    delays = [history.crashed(now) for now in (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_the_crash_after_the_limit_within_the_window_is_a_crash_loop() -> None:
    history = CrashHistory(RestartPolicy(limit=5, window=60))
    assert all(history.crashed(now) is not None for now in (0.0, 10.0, 20.0, 30.0, 40.0))
    assert history.crashed(59.0) is None
    assert history.recent == 6


def test_crashes_older_than_the_window_no_longer_count() -> None:
    history = CrashHistory(RestartPolicy(limit=5, window=60, first_delay=0.5))
    for now in (0.0, 10.0, 20.0, 30.0, 40.0):
        history.crashed(now)
    # The crashes at 0 and 10 s have left the window: three remain, this is the fourth.
    assert history.crashed(75.0) == 0.5 * 2**3
    assert history.recent == 4
    # A quiet minute later, the next crash is a first one again.
    assert history.crashed(200.0) == 0.5


def test_a_crash_exactly_one_window_later_no_longer_counts() -> None:
    history = CrashHistory(RestartPolicy(limit=1, window=60))
    assert history.crashed(0.0) is not None
    assert history.crashed(60.0) is not None


def test_a_limit_of_zero_never_restarts() -> None:
    assert CrashHistory(RestartPolicy(limit=0)).crashed(0.0) is None


@pytest.mark.parametrize(
    "fields",
    [{"limit": -1}, {"window": 0}, {"first_delay": -1}, {"first_delay": 5, "max_delay": 1}],
    ids=["negative limit", "empty window", "negative delay", "cap below first delay"],
)
def test_an_inconsistent_policy_is_refused(fields: dict) -> None:
    with pytest.raises(ValueError, match="inconsistent restart policy"):
        RestartPolicy(**fields)


def test_the_policy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAUNCHER_RESTART_LIMIT", "3")
    monkeypatch.setenv("LAUNCHER_RESTART_WINDOW_S", "20")
    policy = settings.load().restart_policy
    assert (policy.limit, policy.window) == (3, 20.0)


def test_the_default_policy_allows_five_restarts_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAUNCHER_RESTART_LIMIT", raising=False)
    monkeypatch.delenv("LAUNCHER_RESTART_WINDOW_S", raising=False)
    policy = settings.load().restart_policy
    assert (policy.limit, policy.window) == (5, 60.0)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LAUNCHER_RESTART_LIMIT", "five", "LAUNCHER_RESTART_LIMIT must be a count"),
        ("LAUNCHER_RESTART_WINDOW_S", "a minute", "LAUNCHER_RESTART_WINDOW_S must be seconds"),
        ("LAUNCHER_RESTART_WINDOW_S", "0", "LAUNCHER_RESTART_WINDOW_S more than 0"),
    ],
)
def test_a_malformed_policy_fails_at_startup_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        settings.load()
