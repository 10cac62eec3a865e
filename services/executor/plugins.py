"""Signal plugins that installed packages provide, found through the `backtest_platform.signal_plugins` entry points.

Each entry point names a SignalPlugin subclass (or instance). An executor
loads them once, runs them like the built-in ones, and advertises them in its
registry entry with their descriptions and parameter schemas, so the catalog
accepts their keys while such an executor is alive (docs/strategies.md). A
key that clashes with a built-in plugin, or a plugin that fails to load, is
left out with a warning: a broken package never takes an executor down.
"""

from __future__ import annotations

import functools
import logging
from importlib import metadata
from typing import Any

from services.domain.signals import PLUGINS
from services.domain.signals.discovery import describe_plugin
from services.domain.signals.schema import SignalPlugin

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "backtest_platform.signal_plugins"


@functools.cache
def package_plugins() -> dict[str, tuple[SignalPlugin, str]]:
    """Plugins of installed packages by key, each with the distribution that provides it."""
    found: dict[str, tuple[SignalPlugin, str]] = {}
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        source = entry.dist.name if entry.dist is not None else entry.value
        try:
            loaded = entry.load()
            plugin = loaded() if isinstance(loaded, type) else loaded
        except Exception:
            log.warning("signal plugin did not load", extra={"entry_point": entry.value}, exc_info=True)
            continue
        if not isinstance(plugin, SignalPlugin) or plugin.key in PLUGINS or plugin.key in found:
            log.warning("signal plugin left out (not a SignalPlugin, or its key is taken)", extra={"key": entry.name})
            continue
        found[plugin.key] = (plugin, source)
    return found


def all_plugins() -> dict[str, SignalPlugin]:
    """The plugins this executor runs: the built-in ones and the installed packages'."""
    return {**PLUGINS, **{key: plugin for key, (plugin, _) in package_plugins().items()}}


def advertised() -> list[dict[str, Any]]:
    """Descriptions of the package plugins, as the registry entry carries them."""
    return [describe_plugin(plugin, source) for plugin, source in package_plugins().values()]
