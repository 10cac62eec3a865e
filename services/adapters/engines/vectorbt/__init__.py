"""The vectorbt engine, declared (the adapter in `.adapter` imports vectorbt, which takes seconds)."""

from __future__ import annotations

from services.domain.engines import EngineDescriptor

ENGINE = EngineDescriptor(
    name="vectorbt",
    adapter="services.adapters.engines.vectorbt.adapter:VectorbtEngine",
    # One flexible simulation runs every parameter set of a batch as columns.
    batching=True,
    distribution="vectorbt",
)
