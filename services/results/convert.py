"""The only module that knows both the wire types and the results service's own types."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from google.protobuf import json_format, struct_pb2

from backtest.v1 import backtest_pb2, results_pb2
from services.domain.metric_table import HIGHER, NEUTRAL
from services.kit.nullable_string import read_nullable
from services.kit.protobuf_wire import varint
from services.results.compare import Comparison
from services.results.records import BacktestRecord


def backtest_record(message: backtest_pb2.Backtest) -> BacktestRecord:
    """The part of a catalog Backtest the results service reads."""
    return BacktestRecord(
        id=message.id,
        engine=message.engine,
        status=message.status,
        metrics=json_format.MessageToDict(message.metrics),
        equity_curve_uri=read_nullable(message.equity_curve_uri),
        trades_uri=read_nullable(message.trades_uri),
    )


def equity_points(rows: tuple[list[str], list[float]]) -> Iterator[backtest_pb2.EquityPoint]:
    """One message per bar of a batch of (dates, equities), built as it is asked for."""
    dates, equities = rows
    return (backtest_pb2.EquityPoint(date=d, equity=e) for d, e in zip(dates, equities, strict=True))


def trades(rows: dict[str, list]) -> Iterator[backtest_pb2.Trade]:
    """One message per trade of a batch of columns; None (an open trade's exit_date) stays unset."""
    names = list(rows)
    return (backtest_pb2.Trade(**dict(zip(names, values, strict=True))) for values in zip(*rows.values(), strict=True))


def http_body_wire(chunks: Iterable[bytes], content_type: str) -> Iterator[bytes]:
    """Chunks of a body as serialized google.api.HttpBody messages, for a method sent without a serializer.

    Byte for byte what HttpBody(content_type=..., data=chunk).SerializeToString() makes, the type
    on the first message only (the gateway takes it from there), without building a message per
    chunk: the data is copied once, into the wire bytes.
    """
    kind = content_type.encode()
    first = b"\x0a" + varint(len(kind)) + kind if kind else b""
    for index, chunk in enumerate(chunks):
        head = first if index == 0 else b""
        yield head + (b"\x12" + varint(len(chunk)) if chunk else b"") + chunk


def compare_response(comparison: Comparison) -> results_pb2.CompareBacktestsResponse:
    """The wire form of a comparison."""
    response = results_pb2.CompareBacktestsResponse()
    for run in comparison.runs:
        row = response.runs.add(id=run.id, engine=run.engine, status=run.status)
        row.metrics.SetInParent()  # a run without metrics still shows `"metrics": {}`
        row.metrics.update(run.metrics)
    for key, metric in comparison.metric_diff.items():
        diff = response.metric_diff[key]
        diff.direction = metric.direction
        if metric.direction != NEUTRAL:
            diff.higher_is_better = metric.direction == HIGHER
        diff.best_id.CopyFrom(_value(metric.best_id))
        for run_id, value in metric.values.items():
            diff.values[run_id].CopyFrom(_value(value))
    return response


def _value(value: Any) -> struct_pb2.Value:
    """A JSON value (None becomes null) as a protobuf Value."""
    message = struct_pb2.Value()
    json_format.ParseDict(value, message)
    return message
