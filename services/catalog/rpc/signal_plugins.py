"""Discovery RPC: the signal plugins a run config can name, with their parameters' JSON Schemas."""

from __future__ import annotations

from collections.abc import AsyncIterator

from backtest.v1 import signals_pb2
from services.catalog import convert
from services.catalog.execution.service import ExecutionService
from services.domain.signals.discovery import describe_plugins


class SignalPluginsMixin:
    """ListSignalPlugins."""

    execution: ExecutionService

    async def ListSignalPlugins(
        self, request: signals_pb2.ListSignalPluginsRequest, context
    ) -> AsyncIterator[signals_pb2.SignalPlugin]:
        for description in [*describe_plugins(), *await self.execution.advertised_plugins()]:
            yield convert.signal_plugin_message(description)
