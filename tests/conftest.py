"""Shared test setup: the server and stack fixtures, and markers taken from the directory."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ("tests.fixtures.servers", "tests.fixtures.stack")

_TESTS = Path(__file__).parent
_KINDS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # `-m integration` works without every test repeating its directory's name.
    for item in items:
        try:
            kind = item.path.relative_to(_TESTS).parts[0]
        except ValueError:
            continue
        if kind in _KINDS:
            item.add_marker(kind)
