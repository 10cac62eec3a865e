"""Engine adapters, loaded by name from the descriptors services.domain.engines finds.

Importing vectorbt takes seconds and compiling it more, so nothing here
imports an engine until an executor asks for it.
"""

from __future__ import annotations

import functools
import importlib

from services.adapters.engines.base import Engine, EngineError
from services.domain.engines import descriptor

__all__ = ["Engine", "EngineError", "get_engine", "warm_up"]


@functools.cache
def get_engine(name: str) -> Engine:
    """The adapter of engine `name`, built once per process; ValidationError (field "engine") if unknown.

    name: engine name, e.g. "vectorbt".
    """
    module, _, attribute = descriptor(name).adapter.partition(":")
    return getattr(importlib.import_module(module), attribute)()


def warm_up(name: str) -> None:
    """Imports and compiles engine `name` so its first real run is steady-state fast.

    name: engine name, e.g. "vectorbt".
    """
    get_engine(name).warm_up()
