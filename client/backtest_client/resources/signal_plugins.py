"""Signal plugins: GET /api/v1/signal-plugins, what a config can name and the expression language."""

from __future__ import annotations

from backtest_client.resources import Resource
from backtest_client.signals import ExpressionLanguage, SignalPlugin

EXPRESSION = "expression"


class SignalPlugins(Resource):
    """The plugins a run config can name, with their parameters' JSON Schemas."""

    def list(self) -> list[SignalPlugin]:
        """Every plugin: the built-in ones and those that installed packages give live executors."""
        return [SignalPlugin.from_wire(item) for item in self._transport.json("GET", "/signal-plugins")]

    def language(self) -> ExpressionLanguage:
        """The expression language (bar names, operators, functions with arities, limits)."""
        for plugin in self.list():
            if plugin.key == EXPRESSION and plugin.language is not None:
                return plugin.language
        raise LookupError("the platform lists no expression plugin with its language")
