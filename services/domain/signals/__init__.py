"""Signal plugins: each turns bars into a target exposure in [-1, 1], causally.

A plugin is chosen by `config.signal_plugin_key`; its parameters
(`config.signal_plugin_params`) are checked against its schema when a
backtest is created, and the engines only ever see the exposure array.
"""

from __future__ import annotations

from services.domain.signals.bollinger import BollingerSignal
from services.domain.signals.breakout import BreakoutSignal
from services.domain.signals.buy_and_hold import BuyAndHold
from services.domain.signals.crossover import CrossoverSignal
from services.domain.signals.expression import ExpressionSignal
from services.domain.signals.rsi import RsiSignal
from services.domain.signals.schema import Param, SignalContext, SignalPlugin

PLUGINS: dict[str, SignalPlugin] = {
    plugin.key: plugin
    for plugin in (
        CrossoverSignal(),
        RsiSignal(),
        BreakoutSignal(),
        BollingerSignal(),
        BuyAndHold(),
        ExpressionSignal(),
    )
}


# Built-in plugins whose runs may read model-output series (their jobs carry the series' locations).
SERIES_READERS = frozenset(key for key, plugin in PLUGINS.items() if plugin.reads_series)


def get_plugin(key: str) -> SignalPlugin:
    """The plugin registered under `key`; KeyError naming the known keys if there is none."""
    try:
        return PLUGINS[key]
    except KeyError:
        raise KeyError(f"unknown signal plugin {key!r}; known: {', '.join(sorted(PLUGINS))}") from None


__all__ = ["PLUGINS", "SERIES_READERS", "Param", "SignalContext", "SignalPlugin", "get_plugin"]
