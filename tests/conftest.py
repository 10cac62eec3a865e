"""Shared test setup: the server and stack fixtures, and markers taken from the directory."""

from __future__ import annotations

from pathlib import Path

import pytest

# Before anything imports grpc: the tests start servers from processes that use
# gRPC, and deploy.embedded turns grpcio's fork handlers off (see there).
import deploy.embedded  # noqa: F401

pytest_plugins = ("tests.fixtures.servers", "tests.fixtures.stack")

_TESTS = Path(__file__).parent
_KINDS = ("unit", "integration", "e2e", "chaos")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `-m integration` works without every test repeating its directory's name.
    for item in items:
        try:
            kind = item.path.relative_to(_TESTS).parts[0]
        except ValueError:
            continue
        if kind in _KINDS:
            item.add_marker(kind)
    # The whole chaos suite takes minutes: it runs when asked for (`make chaos`,
    # `-m chaos`, or a path under tests/chaos); otherwise only its quick scenarios.
    if not _chaos_asked_for(config):
        slow = [item for item in items if item.get_closest_marker("chaos") and not item.get_closest_marker("quick")]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if item not in slow]


def _chaos_asked_for(config: pytest.Config) -> bool:
    if "chaos" in (config.option.markexpr or ""):
        return True
    chaos = _TESTS / "chaos"
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if path == chaos or chaos in path.parents:
            return True
    return False


@pytest.hookimpl(optionalhook=True)  # xdist's hook: plain `pytest` runs without the plugin too
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadfile` (as `make test` runs): a worker takes a whole file, and the chaos package whole.

    A file's tests share their module's fixtures, so they stay on one worker; the chaos
    scenarios share one stack of their own (package scope), started once. xdist's own
    loadfile would split the package, and its loadgroup marks are lost under pytest 9
    (it renames nodeids through an attribute pytest no longer reads).
    """
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WholeFiles(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/chaos" if path.startswith("tests/chaos/") else path

    return WholeFiles(config, log)
