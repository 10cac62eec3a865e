"""Which engines the platform has: each engine's adapter declares itself, and everything asks here.

An engine is a Python distribution's entry point in the group
`backtest_platform.engines` whose object is an `EngineDescriptor`: its name,
whether it runs many configurations over the same bars in one call, the
distribution whose version is the engine's version, and where its adapter
class lives. The catalog validates run configs against these names, the bus
makes one consumer per name, the sweep planner batches by `batching`, and
executors load `adapter` and report `distribution`'s version; none of them
lists engines of its own. The platform's own engines are declared in the
repository's pyproject.toml; another package (or a test) adds one by
declaring an entry point in the same group (docs/engines.md).

Reading entry points is package metadata, not I/O the domain depends on at
run time: it happens once per process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import metadata

from services.domain.errors import ValidationError

ENTRY_POINT_GROUP = "backtest_platform.engines"
DEFAULT_ENGINE = "vectorbt"  # the seed's default


@dataclass(frozen=True)
class EngineDescriptor:
    """What the platform needs to know of an engine without importing it.

    name: the engine's name in run configs, job subjects and the registry.
    adapter: "module:Class" of its adapter (services.adapters.engines.base.Engine), imported by executors only.
    batching: whether the adapter's `run_many` runs many configurations over the same bars in one call,
        so the sweep planner groups such runs into one job.
    distribution: the installed distribution whose version is reported as the engine's.
    """

    name: str
    adapter: str
    batching: bool
    distribution: str

    def version(self) -> str:
        """The installed version of the engine's distribution; "unknown" when it has no metadata."""
        try:
            return metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            return "unknown"


@functools.cache
def engines() -> dict[str, EngineDescriptor]:
    """Every installed engine by name, in name order."""
    found: dict[str, EngineDescriptor] = {}
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        descriptor = entry.load()
        if not isinstance(descriptor, EngineDescriptor) or descriptor.name != entry.name:
            raise TypeError(f"entry point {entry.value} of {ENTRY_POINT_GROUP} is not the descriptor of {entry.name!r}")
        found[entry.name] = descriptor
    return dict(sorted(found.items()))


def engine_names() -> tuple[str, ...]:
    """Names of every installed engine."""
    return tuple(engines())


def descriptor(name: object, field: str = "engine") -> EngineDescriptor:
    """The descriptor of engine `name`; a ValidationError naming `field` when there is no such engine.

    name: the engine name as received.
    field: dotted path of the value in the request.
    """
    known = engines()
    if not isinstance(name, str) or name not in known:
        raise ValidationError.single(field, f"unknown engine {name!r}; known: {', '.join(known)}")
    return known[name]
