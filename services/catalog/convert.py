"""Wire <-> catalog: the only module that sees both generated messages and rows or domain types.

Requests become plain dicts that keep field presence (an absent optional
field is an absent key), which is what the domain validators take. Rows
become messages; `fill_backtest` fills any message that has Backtest's
field names, so ExecuteBacktestResponse reuses it.
"""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message

from backtest.v1 import backtest_pb2, catalog_pb2, signals_pb2
from services.catalog.repository.views import BacktestView, SignalLogicView, StrategyView
from services.domain.metrics import COUNTS, structure
from services.domain.statuses import RunStatus
from services.kit.nullable_string import write_nullable

_INT32 = 2**31


def _present(message: Message, names: tuple[str, ...]) -> dict[str, Any]:
    """The fields of `names` that `message` carries: HasField for optional ones, non-empty otherwise."""
    fields = {}
    for name in names:
        field = message.DESCRIPTOR.fields_by_name[name]
        if field.has_presence:
            if message.HasField(name):
                value = getattr(message, name)
                fields[name] = json_format.MessageToDict(value) if isinstance(value, Message) else value
        elif field.is_repeated:
            if len(getattr(message, name)):
                fields[name] = list(getattr(message, name))
        elif getattr(message, name) != field.default_value:
            fields[name] = getattr(message, name)
    return fields


def _names(message_type: type[Message], *, without: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Every field name of a message type except `without`."""
    return tuple(f.name for f in message_type.DESCRIPTOR.fields if f.name not in without)


def create_backtest_fields(request: catalog_pb2.CreateBacktestRequest) -> dict[str, Any]:
    """The create request as resolve_backtest takes it; a missing config is left for it to name."""
    fields = _present(request, _names(catalog_pb2.CreateBacktestRequest, without=("config",)))
    if request.HasField("config"):
        fields["config"] = _present(request.config, _names(backtest_pb2.RunConfig))
    return fields


def list_backtests_fields(request: catalog_pb2.ListBacktestsRequest) -> dict[str, Any]:
    """strategy_id, skip and limit as given."""
    return _present(request, ("strategy_id", "skip", "limit"))


def page_fields(request: catalog_pb2.ListStrategiesRequest) -> dict[str, Any]:
    """Skip and limit as given."""
    return _present(request, ("skip", "limit"))


def update_backtest_fields(request: catalog_pb2.UpdateBacktestRequest) -> dict[str, Any]:
    """Only the PATCH fields present in the request."""
    return _present(request, ("status", "metrics", "trades_uri", "equity_curve_uri"))


def strategy_fields(request: catalog_pb2.CreateStrategyRequest) -> dict[str, Any]:
    """name, description, universe and params as given."""
    return _present(request, ("name", "description", "universe", "params"))


def finite_or_none(value: Any) -> Any:
    """JSON has no NaN or infinity: a value that is not finite is null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def metrics_struct(target: struct_pb2.Struct, metrics: dict[str, Any]) -> None:
    """Fills `target` from a flat metrics dict; None and non-finite values become null."""
    target.update({key: finite_or_none(value) for key, value in metrics.items()})


def structured_metrics(target: backtest_pb2.StructuredMetrics, metrics: dict[str, Any]) -> None:
    """Fills the typed view of the flat metrics; values it cannot type (PATCHed text, fractional counts) are null."""

    def typed(key: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        if key in COUNTS and (value != int(value) or abs(value) >= _INT32):
            return None
        return value

    json_format.ParseDict(structure({k: typed(k, v) for k, v in metrics.items()}), target)


def fill_backtest(message: Message, row: BacktestView) -> Message:
    """Copies a backtest row into `message` (Backtest or ExecuteBacktestResponse) and returns it."""
    message.id = str(row.id)
    message.strategy_id = str(row.strategy_id)
    message.engine = row.engine
    message.status = row.status
    message.initial_capital = row.initial_capital
    message.commission = row.commission
    message.slippage = row.slippage
    json_format.ParseDict(row.config, message.config, ignore_unknown_fields=True)
    message.metrics.SetInParent()  # an empty dict still prints as {} (the seed's "metrics": {})
    metrics_struct(message.metrics, row.metrics)
    for name in ("trades_uri", "equity_curve_uri"):
        write_nullable(getattr(message, name), getattr(row, name))  # null until completed, as the seed's JSON
    if row.sweep_id is not None and "sweep_id" in message.DESCRIPTOR.fields_by_name:
        message.sweep_id = str(row.sweep_id)
    if row.bars_sha256 and "bars_sha256" in message.DESCRIPTOR.fields_by_name:
        message.bars_sha256 = row.bars_sha256
    message.created_at.FromDatetime(row.created_at)
    message.updated_at.FromDatetime(row.updated_at)
    if row.status == RunStatus.COMPLETED:
        structured_metrics(message.structured_metrics, row.metrics)
    return message


def backtest_message(row: BacktestView) -> backtest_pb2.Backtest:
    """The Backtest message of a row, structured_metrics included when completed."""
    return fill_backtest(backtest_pb2.Backtest(), row)


def strategy_message(row: StrategyView) -> backtest_pb2.Strategy:
    """The Strategy message of a row."""
    message = backtest_pb2.Strategy(id=str(row.id), name=row.name, universe=row.universe)
    if row.description is not None:
        message.description = row.description
    message.params.update(row.params)
    message.created_at.FromDatetime(row.created_at)
    message.updated_at.FromDatetime(row.updated_at)
    return message


def signal_logic_fields(request: Message) -> dict[str, Any]:
    """The present fields of a CreateSignalLogicRequest or UpdateSignalLogicRequest (rule_tree as a list)."""
    names = ("name", "description", "rule_tree", "output_mode", "position_mode", "strategy_id")
    return _present(request, names)


def signal_logic_message(row: SignalLogicView) -> signals_pb2.SignalLogic:
    """The SignalLogic message of a row at its current version."""
    message = signals_pb2.SignalLogic(
        id=str(row.id),
        name=row.name,
        output_mode=row.output_mode,
        position_mode=row.position_mode,
        version=row.version,
    )
    message.rule_tree.extend(row.rule_tree)
    if row.description is not None:
        message.description = row.description
    if row.strategy_id is not None:
        message.strategy_id = str(row.strategy_id)
    message.created_at.FromDatetime(row.created_at)
    message.updated_at.FromDatetime(row.updated_at)
    return message


def signal_plugin_message(description: dict[str, Any]) -> signals_pb2.SignalPlugin:
    """The SignalPlugin message of a plugin description (services.domain.signals.discovery's shape)."""
    message = signals_pb2.SignalPlugin(
        key=description["key"], description=description["description"], source=description["source"]
    )
    message.parameters.update(description["parameters"])
    if "language" in description:
        message.language.update(description["language"])
    return message
