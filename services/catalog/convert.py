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
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from backtest.v1 import backtest_pb2, catalog_pb2, signals_pb2
from services.catalog.repository.views import BacktestView, SignalLogicView, StrategyView
from services.domain.metrics import COUNTS, structure
from services.domain.statuses import RunStatus
from services.kit.nullable_string import write_nullable

_INT32 = 2**31
_STRUCT = struct_pb2.Struct.DESCRIPTOR.full_name


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


def _set_plain(message: Message, values: dict[str, Any]) -> bool:
    """Sets `values` on `message` as `json_format.ParseDict(values, message, ignore_unknown_fields=True)` would.

    For plain input only: keys that are field names (unknown keys are skipped, as
    ParseDict skips them), None for an absent field, str, bool, finite floats and ints
    in range for scalars, a dict for a message field (a Struct, or recursively plain),
    a list of str for a repeated string. Returns False at the first value it does not
    take, leaving `message` partly set: the caller clears it and calls ParseDict, which
    also handles (or rejects with its own error) everything else. A sync execute's
    answer paid ParseDict's generic walk on its config and metrics (5% of the catalog's
    samples in a burst of small executes).
    """
    fields = _fields_of(message.DESCRIPTOR)
    for key, value in values.items():
        field = fields.get(key)
        if field is None:
            if key in _json_names_of(message.DESCRIPTOR):
                return False  # a JSON name ParseDict reads as its field
            continue
        if value is None:
            if field.message_type is not None:
                return False  # ParseDict's rules for null in a message field: leave them to it
            continue
        kind = field.cpp_type
        if field.is_repeated:
            if kind != FieldDescriptor.CPPTYPE_STRING or type(value) is not list:
                return False
            if not all(type(item) is str for item in value):
                return False
            getattr(message, key).extend(value)
        elif kind == FieldDescriptor.CPPTYPE_MESSAGE:
            if type(value) is not dict:
                return False
            target = getattr(message, key)
            if field.message_type.full_name == _STRUCT:
                target.update(value)
            else:
                target.SetInParent()
                if not _set_plain(target, value):
                    return False
        elif kind == FieldDescriptor.CPPTYPE_STRING:
            if type(value) is not str or field.type != FieldDescriptor.TYPE_STRING:
                return False
            setattr(message, key, value)
        elif kind == FieldDescriptor.CPPTYPE_DOUBLE:
            if type(value) is float:
                if not math.isfinite(value):
                    return False
            elif type(value) is not int:
                return False
            setattr(message, key, float(value))
        elif kind == FieldDescriptor.CPPTYPE_INT32:
            if type(value) is not int or not -_INT32 <= value < _INT32:
                return False
            setattr(message, key, value)
        elif kind == FieldDescriptor.CPPTYPE_BOOL:
            if type(value) is not bool:
                return False
            setattr(message, key, value)
        else:
            return False
    return True


_FIELDS: dict[str, dict[str, FieldDescriptor]] = {}
_JSON_NAMES: dict[str, frozenset[str]] = {}


def _fields_of(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    fields = _FIELDS.get(descriptor.full_name)
    if fields is None:
        fields = _FIELDS[descriptor.full_name] = dict(descriptor.fields_by_name)
    return fields


def _json_names_of(descriptor: Descriptor) -> frozenset[str]:
    names = _JSON_NAMES.get(descriptor.full_name)
    if names is None:
        names = _JSON_NAMES[descriptor.full_name] = frozenset(
            f.json_name for f in descriptor.fields if f.json_name != f.name
        )
    return names


def parse_plain(values: dict[str, Any], message: Message) -> None:
    """`json_format.ParseDict(values, message, ignore_unknown_fields=True)` on a fresh `message`, faster on plain input.

    Same message (a unit test compares the bytes), same errors (anything not plain is ParseDict's).
    """
    if not _set_plain(message, values):
        message.Clear()
        json_format.ParseDict(values, message, ignore_unknown_fields=True)


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

    parse_plain(structure({k: typed(k, v) for k, v in metrics.items()}), target)


def fill_backtest(message: Message, row: BacktestView) -> Message:
    """Copies a backtest row into `message` (Backtest or ExecuteBacktestResponse) and returns it."""
    message.id = str(row.id)
    message.strategy_id = str(row.strategy_id)
    message.engine = row.engine
    message.status = row.status
    message.initial_capital = row.initial_capital
    message.commission = row.commission
    message.slippage = row.slippage
    parse_plain(row.config, message.config)
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
