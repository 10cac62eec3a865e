"""The wire form of comparisons and rows, as the gateway renders it to JSON."""

from __future__ import annotations

import pyarrow as pa
import pytest
from google.api import httpbody_pb2
from google.protobuf import json_format

from services.results import convert
from services.results.bar_dates import BarDateFormatter
from services.results.compare import compare
from services.results.records import BacktestRecord

A = "00000000-0000-0000-0000-00000000000a"
B = "00000000-0000-0000-0000-00000000000b"


def as_json(message) -> dict:
    """Renders like the gateway: proto field names, zero values printed."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def test_compare_response_matches_the_seed_shape():
    runs = [
        BacktestRecord(A, "vectorbt", "completed", {"perf_sharpe_ratio": 1.42, "trade_total_trades": 3}),
        BacktestRecord(B, "backtrader", "pending", {}),
    ]
    body = as_json(convert.compare_response(compare(runs)))
    assert body["runs"] == [
        {
            "id": A,
            "engine": "vectorbt",
            "status": "completed",
            "metrics": {"perf_sharpe_ratio": 1.42, "trade_total_trades": 3},
        },
        {"id": B, "engine": "backtrader", "status": "pending", "metrics": {}},
    ]
    assert body["metric_diff"]["perf_sharpe_ratio"] == {
        "values": {A: 1.42, B: None},
        "best_id": A,
        "higher_is_better": True,
        "direction": "higher",
    }
    # Neutral: best_id is null and higher_is_better is absent rather than a misleading false.
    assert body["metric_diff"]["trade_total_trades"] == {
        "values": {A: 3, B: None},
        "best_id": None,
        "direction": "neutral",
    }


def test_open_trade_has_no_exit_date():
    rows = {
        "entry_date": ["2020-01-02", "2020-02-03"],
        "exit_date": ["2020-01-10", None],
        "side": ["long", "short"],
        "pnl": [412.5, -3.0],
        "status": ["closed", "open"],
    }
    closed, still_open = (as_json(t) for t in convert.trades(rows))
    assert closed["exit_date"] == "2020-01-10" and closed["pnl"] == 412.5
    assert "exit_date" not in still_open and still_open["status"] == "open"


@pytest.mark.parametrize("content_type", ["application/vnd.apache.parquet", "application/json", ""])
def test_http_body_wire_is_what_the_messages_serialize_to_with_the_type_on_the_first(content_type):
    chunks = [b"[" + b"x" * 200, b"", b"y" * 130_000, b"]"]
    expected = [
        httpbody_pb2.HttpBody(content_type=content_type if index == 0 else "", data=chunk).SerializeToString()
        for index, chunk in enumerate(chunks)
    ]
    assert list(convert.http_body_wire(chunks, content_type)) == expected


def test_daily_bars_print_dates_and_intraday_bars_date_times():
    daily = pa.array(["2020-01-02T00:00:00", None]).cast(pa.timestamp("us"))
    assert BarDateFormatter().format(daily) == [["2020-01-02", None]]
    intraday = pa.array(["2020-01-02T09:31:00.123456"], pa.string()).cast(pa.timestamp("ns"))
    assert BarDateFormatter().format(intraday) == [["2020-01-02T09:31:00"]]


def test_date_times_stick_once_an_intraday_bar_was_seen():
    formatter = BarDateFormatter()
    formatter.format(pa.array(["2020-01-02T15:59:00"]).cast(pa.timestamp("s")))
    midnight_only = pa.array(["2020-01-03T00:00:00"]).cast(pa.timestamp("s"))
    assert formatter.format(midnight_only) == [["2020-01-03T00:00:00"]]
