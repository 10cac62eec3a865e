"""The engine registry: names, lazy loading, unknown names."""

from __future__ import annotations

import subprocess
import sys

import pytest

from services.domain.errors import ValidationError
from services.executor.engines import ENGINES, Engine, get_engine


def test_lists_both_engines():
    assert sorted(ENGINES) == ["backtrader", "vectorbt"]


def test_importing_the_registry_loads_no_engine():
    code = "import sys, services.executor.engines; print('vectorbt' in sys.modules, 'backtrader' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("name", ["vectorbt", "backtrader"])
def test_get_engine_returns_one_adapter_per_name(name):
    engine = get_engine(name)
    assert isinstance(engine, Engine)
    assert engine.name == name
    assert get_engine(name) is engine


def test_unknown_engine_is_a_validation_error_on_the_engine_field():
    with pytest.raises(ValidationError) as caught:
        get_engine("zipline")
    assert [v.field for v in caught.value.violations] == ["engine"]
