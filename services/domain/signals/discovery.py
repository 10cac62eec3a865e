"""The built-in plugins described for clients: key, description, JSON Schema of their parameters."""

from __future__ import annotations

import inspect
from typing import Any

from services.domain.expressions.language import describe_language
from services.domain.signals import PLUGINS
from services.domain.signals.schema import SignalPlugin

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def describe_plugin(plugin: SignalPlugin, source: str = "built-in") -> dict[str, Any]:
    """{key, description, parameters (a JSON Schema), source}, plus the language for the expression plugin.

    source: "built-in", or the installed distribution that provides the plugin.
    """
    entry: dict[str, Any] = {
        "key": plugin.key,
        "description": " ".join(inspect.getdoc(plugin).split()),
        "parameters": {"$schema": JSON_SCHEMA_DIALECT, **plugin.json_schema()},
        "source": source,
    }
    if plugin.key == "expression":
        entry["language"] = describe_language()
    return entry


def describe_plugins() -> list[dict[str, Any]]:
    """Every built-in plugin, in registry order."""
    return [describe_plugin(plugin) for plugin in PLUGINS.values()]
