"""The backtrader engine, declared (the adapter in `.adapter` imports backtrader)."""

from __future__ import annotations

from services.domain.engines import EngineDescriptor

ENGINE = EngineDescriptor(
    name="backtrader",
    adapter="services.adapters.engines.backtrader.adapter:BacktraderEngine",
    # Cerebro runs one strategy over one feed: a sweep spreads one job per run over the fleet.
    batching=False,
    distribution="backtrader",
)
