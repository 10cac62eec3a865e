"""The only report module that knows the wire types: catalog messages in, an HttpBody out."""

from __future__ import annotations

from typing import Any

from google.api import httpbody_pb2
from google.protobuf import json_format

from backtest.v1 import backtest_pb2
from services.kit.nullable_string import read_nullable
from services.results.report.records import RunRecord, TaskRecord

HTML_CONTENT_TYPE = "text/html; charset=utf-8"


def run_record(message: backtest_pb2.Backtest) -> RunRecord:
    """The report's view of a catalog Backtest."""
    return RunRecord(
        id=message.id,
        strategy_id=message.strategy_id,
        engine=message.engine,
        status=message.status,
        initial_capital=message.initial_capital,
        commission=message.commission,
        slippage=message.slippage,
        config=_whole_numbers(json_format.MessageToDict(message.config, preserving_proto_field_name=True)),
        metrics=json_format.MessageToDict(message.metrics),
        structured_metrics=json_format.MessageToDict(message.structured_metrics, preserving_proto_field_name=True),
        equity_curve_uri=read_nullable(message.equity_curve_uri),
        trades_uri=read_nullable(message.trades_uri),
        bars_sha256=message.bars_sha256,
    )


def _whole_numbers(value: Any) -> Any:
    """Struct numbers are all doubles: 10.0 that was 10 prints as 10 again (plugin periods, ranks, counts).

    A float metric that happens to be whole (a 0.0 return) becomes 0, which prints the same.
    """
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def task_record(message: backtest_pb2.Task) -> TaskRecord:
    """The report's view of a catalog Task."""
    return TaskRecord(
        task_id=message.task_id,
        kind=message.kind,
        status=message.status,
        backtest_id=message.backtest_id if message.HasField("backtest_id") else None,
        result=_whole_numbers(json_format.MessageToDict(message.result)),
        error=message.error if message.HasField("error") else None,
    )


def html_body(page: str) -> httpbody_pb2.HttpBody:
    """A rendered page as the RPC's answer; the gateway serves it as text/html."""
    return httpbody_pb2.HttpBody(content_type=HTML_CONTENT_TYPE, data=page.encode("utf-8"))
