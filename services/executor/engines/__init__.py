"""Engine registry: names to adapters, each imported on first use.

Importing vectorbt takes seconds and compiling it more, so nothing here
imports an engine until it is asked for; `ENGINES.keys()` lists the names
without loading anything.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from services.domain.errors import ValidationError
from services.executor.engines.base import Engine, EngineError

__all__ = ["ENGINES", "Engine", "EngineError", "get_engine", "warm_up"]

# name -> (module, class) of its adapter
_ADAPTERS = {
    "vectorbt": ("services.executor.engines.vectorbt_engine", "VectorbtEngine"),
    "backtrader": ("services.executor.engines.backtrader_engine", "BacktraderEngine"),
}


class _LazyEngines(Mapping[str, Engine]):
    """A read-only name -> Engine mapping that builds each adapter on first access."""

    def __init__(self) -> None:
        self._built: dict[str, Engine] = {}

    def __getitem__(self, name: str) -> Engine:
        if name not in self._built:
            module, cls = _ADAPTERS[name]  # KeyError for unknown names, as a dict would
            self._built[name] = getattr(importlib.import_module(module), cls)()
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(_ADAPTERS)

    def __len__(self) -> int:
        return len(_ADAPTERS)


ENGINES: Mapping[str, Engine] = _LazyEngines()


def get_engine(name: str) -> Engine:
    """The adapter for `name`; ValidationError (field "engine") if no such engine exists.

    name: engine name, e.g. "vectorbt".
    """
    if name not in _ADAPTERS:
        raise ValidationError.single("engine", f"unknown engine {name!r}; known: {', '.join(_ADAPTERS)}")
    return ENGINES[name]


def warm_up(name: str) -> None:
    """Imports and compiles engine `name` so its first real run is steady-state fast.

    name: engine name, e.g. "vectorbt".
    """
    get_engine(name).warm_up()
