"""The engine registry: names, lazy loading, unknown names."""

from __future__ import annotations

import subprocess
import sys

import pytest

from services.adapters.engines import Engine, get_engine
from services.domain.engines import descriptor, engine_names
from services.domain.errors import ValidationError


def test_the_platform_declares_both_engines_through_its_entry_points():
    assert engine_names() == ("backtrader", "vectorbt")
    assert descriptor("vectorbt").batching and not descriptor("backtrader").batching


def test_listing_engines_and_importing_the_registry_loads_no_engine():
    code = (
        "import sys, services.adapters.engines, services.domain.engines as e; e.engine_names();"
        " print('vectorbt' in sys.modules, 'backtrader' in sys.modules)"
    )
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
