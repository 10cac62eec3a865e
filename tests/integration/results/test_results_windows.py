"""start, end and every on curves and trade lists, from a real results service over S3.

Every answer is checked against the stored Parquet file as a researcher would
read it (pandas: an inclusive slice, `resample(rule).last()`), through the
typed streams and the JSON text alike; the default (no field set) is checked
against the text the gateway printed for the typed stream before windows
existed.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backtest.v1 import results_pb2
from gateway.transcoder.descriptors import DescriptorSet
from gateway.transcoder.json_printing import JsonPrinter
from gateway.transcoder.print_options import load_print_options
from services.adapters.artifact_encoding import EQUITY_ENCODING, ROW_GROUP_ROWS, TRADES_ENCODING
from services.kit.nullable_string import write_nullable
from services.kit.status import from_rpc_error
from tests.integration.results.conftest import synthetic_trades

DESCRIPTOR = Path(__file__).resolve().parents[3] / "gen/descriptor.binpb"
BARS = 300_000
RULES = {"1m": "1min", "5m": "5min", "15m": "15min", "1h": "1h", "1d": "1D"}


def put_artifact(store, backtest_id: str, kind: str, table: pa.Table) -> str:
    """Writes `table` with the executor's row groups and encodings; returns the URI."""
    encoding = EQUITY_ENCODING if kind == "equity" else TRADES_ENCODING
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=ROW_GROUP_ROWS, **encoding.writer_options())
    return store.put_bytes(f"artifacts/results-tests/{backtest_id}/{kind}.parquet", sink.getvalue())


@pytest.fixture(scope="module")
def minute_run(publish, store, catalog) -> tuple[str, pd.Series, pd.DataFrame]:
    """A completed run of BARS minute bars (five row groups) with a trade every ~100 bars: (id, curve, trades)."""
    rng = np.random.default_rng(18)
    dates = pd.date_range("2021-01-04 09:30", periods=BARS, freq="min", name="date")
    curve = pd.Series(1e5 * np.exp(np.cumsum(rng.normal(0, 1e-4, BARS))), index=dates)
    curve.iloc[::997] = np.round(curve.iloc[::997])
    entries = np.sort(rng.choice(BARS - 50, 3000, replace=False))
    open_ones = np.arange(len(entries)) % 11 == 0
    trades = synthetic_trades(rng, dates[entries], pd.Series(dates[entries + 40]), open_ones)
    backtest_id = publish()
    record = catalog[0].records[backtest_id]
    equity = pa.Table.from_pandas(curve.to_frame("equity"), preserve_index=True)
    write_nullable(record.equity_curve_uri, put_artifact(store, backtest_id, "equity", equity))
    write_nullable(record.trades_uri, put_artifact(store, backtest_id, "trades", pa.Table.from_pandas(trades)))
    return backtest_id, curve, trades


def joined(call) -> bytes:
    return b"".join(body.data for body in call)


def curve_json(results, backtest_id: str, **window) -> list[dict]:
    request = results_pb2.GetEquityCurveJsonRequest(backtest_id=backtest_id, **window)
    return json.loads(joined(results.GetEquityCurveJson(request)))


def curve_typed(results, backtest_id: str, **window) -> list[dict]:
    request = results_pb2.GetEquityCurveRequest(backtest_id=backtest_id, **window)
    return [{"date": point.date, "equity": point.equity} for point in results.GetEquityCurve(request)]


def trades_json(results, backtest_id: str, **window) -> list[dict]:
    request = results_pb2.GetTradesJsonRequest(backtest_id=backtest_id, **window)
    return json.loads(joined(results.GetTradesJson(request)))


def stored(results, backtest_id: str) -> pd.Series:
    """The curve as its Parquet download holds it."""
    call = results.DownloadEquityCurve(results_pb2.DownloadEquityCurveRequest(backtest_id=backtest_id))
    return pd.read_parquet(io.BytesIO(joined(call)))["equity"]


def points(series: pd.Series, dates: pd.Index | None = None) -> list[dict]:
    index = series.index if dates is None else dates
    return [{"date": d.isoformat(), "equity": v} for d, v in zip(index, series.tolist(), strict=True)]


def test_a_window_in_the_middle_is_the_inclusive_slice(results, minute_run):
    backtest_id, _, _ = minute_run
    curve = stored(results, backtest_id)
    start, end = "2021-02-10T10:15:00", "2021-03-22T14:00:00"  # across row groups 0 to 1
    expected = points(curve[start:end])
    assert curve_json(results, backtest_id, start=start, end=end) == expected
    assert curve_typed(results, backtest_id, start=start, end=end) == expected
    assert expected[0]["date"] == start and expected[-1]["date"] == end  # both bounds are bars: both kept
    # Bare dates are midnight, as in the bars download: end=2021-03-22 stops at that day's 00:00 bar.
    assert curve_json(results, backtest_id, start="2021-02-10", end="2021-03-22") == points(
        curve[pd.Timestamp("2021-02-10") : pd.Timestamp("2021-03-22")]
    )
    assert curve_json(results, backtest_id, start="2021-02-10T15:15:00+05:00") == points(curve["2021-02-10 10:15":])


def test_start_equal_to_end_is_one_point_and_an_empty_window_is_an_empty_array(results, minute_run):
    backtest_id, curve, _ = minute_run
    moment = curve.index[123_456].isoformat()
    assert curve_json(results, backtest_id, start=moment, end=moment) == points(curve.iloc[123_456:123_457])
    between = {"start": "2021-01-05T10:00:30", "end": "2021-01-05T10:00:59"}  # no bar, though its row group is read
    for window in ({"start": "2030-01-01"}, {"end": "2000-01-01", "every": "1d"}, between):
        request = results_pb2.GetEquityCurveJsonRequest(backtest_id=backtest_id, **window)
        bodies = list(results.GetEquityCurveJson(request))
        assert [(b.content_type, b.data) for b in bodies] == [("application/json", b"[]")], window
        assert curve_typed(results, backtest_id, **window) == []
        assert trades_json(results, backtest_id, start=window.get("start", ""), end=window.get("end", "")) == []


@pytest.mark.parametrize("every", ["5m", "1h", "1d", "1w"])
def test_every_is_pandas_resample_last_of_the_parquet_content(results, minute_run, every):
    backtest_id, _, _ = minute_run
    curve = stored(results, backtest_id)
    rule, origin = (RULES[every], {}) if every != "1w" else ("7D", {"origin": pd.Timestamp("1970-01-05")})
    values = curve.resample(rule, **origin).last().dropna()
    dates = curve.index.to_series().resample(rule, **origin).last().dropna()  # each bucket's last bar
    expected = points(values, pd.DatetimeIndex(dates))
    got = curve_json(results, backtest_id, every=every)
    assert got == expected
    assert curve_typed(results, backtest_id, every=every) == expected
    window = {"start": "2021-02-01T12:00", "end": "2021-04-01", "every": every}
    sliced = curve[pd.Timestamp("2021-02-01 12:00") : pd.Timestamp("2021-04-01")]  # not pandas' whole day
    values = sliced.resample(rule, **origin).last().dropna()
    dates = sliced.index.to_series().resample(rule, **origin).last().dropna()
    assert curve_json(results, backtest_id, **window) == points(values, pd.DatetimeIndex(dates))


def test_every_on_a_daily_curve_prints_dates(results, publish):
    dates = pd.bdate_range("2015-01-01", periods=2000, name="date")
    curve = pd.Series(np.linspace(1e5, 2e5, 2000), index=dates)
    backtest_id = publish(equity=curve.to_frame("equity"))
    weekly = curve_json(results, backtest_id, every="1w")
    fridays = curve.resample("W-FRI").last().dropna()  # business days: a week's last bar is its Friday (or earlier)
    assert [p["date"] for p in weekly][1:-1] == [d.strftime("%Y-%m-%d") for d in fridays.index][1:-1]
    assert [p["equity"] for p in weekly] == fridays.tolist()


def test_trades_are_windowed_by_entry_date_typed_and_json(results, minute_run):
    backtest_id, _, trades = minute_run
    start, end = (trades["entry_date"].iloc[i].isoformat() for i in (1000, 1500))
    entered = trades.iloc[1000:1501]
    everything = trades_json(results, backtest_id)
    got = trades_json(results, backtest_id, start=start, end=end)
    assert got == [row for row in everything if start <= row["entry_date"] <= end]
    assert len(got) == len(entered) == 501
    assert [row["pnl"] for row in got] == entered["pnl"].tolist()
    assert got[-1]["entry_date"] == end and got[-1].get("exit_date", "9999") > end  # entered in the window: kept whole
    assert any("exit_date" not in row for row in got)  # open trades too
    typed = results.GetTrades(results_pb2.GetTradesRequest(backtest_id=backtest_id, start=start, end=end))
    assert [(t.entry_date, t.pnl, t.status) for t in typed] == [(r["entry_date"], r["pnl"], r["status"]) for r in got]


def test_the_default_answer_is_the_text_the_gateway_printed_for_the_typed_stream(results, minute_run):
    backtest_id, _, _ = minute_run
    printer = JsonPrinter(DescriptorSet(str(DESCRIPTOR)), load_print_options())

    def printed(messages) -> bytes:
        wire = (type(m).FromString(m.SerializeToString()) for m in messages)
        return ("[" + ",".join(printer.dumps(m) for m in wire) + "]").encode()

    unset = {"start": "", "end": ""}
    curve = joined(results.GetEquityCurveJson(results_pb2.GetEquityCurveJsonRequest(backtest_id=backtest_id)))
    typed = results.GetEquityCurve(results_pb2.GetEquityCurveRequest(backtest_id=backtest_id))
    assert curve == printed(typed)
    empty_fields = results_pb2.GetEquityCurveJsonRequest(backtest_id=backtest_id, every="", **unset)
    assert joined(results.GetEquityCurveJson(empty_fields)) == curve
    trades = joined(results.GetTradesJson(results_pb2.GetTradesJsonRequest(backtest_id=backtest_id)))
    assert trades == printed(results.GetTrades(results_pb2.GetTradesRequest(backtest_id=backtest_id)))
    assert joined(results.GetTradesJson(results_pb2.GetTradesJsonRequest(backtest_id=backtest_id, **unset))) == trades


BAD = [
    ({"start": "yesterday"}, ["start"]),
    ({"end": "2021-13-01"}, ["end"]),
    ({"start": "2021-03-01", "end": "2021-02-01"}, ["end"]),
    ({"start": "x", "end": "y"}, ["start", "end"]),
]


@pytest.mark.parametrize(("window", "fields"), BAD + [({"every": "2d"}, ["every"]), ({"every": "1H"}, ["every"])])
@pytest.mark.parametrize("method", ["GetEquityCurveJson", "GetEquityCurve"])
def test_a_bad_curve_window_is_422_naming_the_field_before_any_byte(results, minute_run, method, window, fields):
    for backtest_id in (minute_run[0], str(uuid.uuid4())):  # checked before the record: 422, not 404
        call = getattr(results, method)(getattr(results_pb2, method + "Request")(backtest_id=backtest_id, **window))
        with pytest.raises(grpc.RpcError) as caught:
            next(call)
        err = caught.value
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert dict(err.initial_metadata())["x-http-code"] == "422"
        assert [v.field for v in from_rpc_error(err).violations] == fields


@pytest.mark.parametrize(("window", "fields"), BAD)
@pytest.mark.parametrize("method", ["GetTradesJson", "GetTrades"])
def test_a_bad_trades_window_is_422_naming_the_field(results, minute_run, method, window, fields):
    call = getattr(results, method)(getattr(results_pb2, method + "Request")(backtest_id=minute_run[0], **window))
    with pytest.raises(grpc.RpcError) as caught:
        next(call)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in from_rpc_error(caught.value).violations] == fields


def test_a_good_window_keeps_the_404_and_409(results, publish):
    missing = str(uuid.uuid4())
    for status, backtest_id in (
        (grpc.StatusCode.NOT_FOUND, missing),
        (grpc.StatusCode.ABORTED, publish(status="running")),
    ):
        call = results.GetEquityCurveJson(
            results_pb2.GetEquityCurveJsonRequest(backtest_id=backtest_id, start="2021-01-01", every="1d")
        )
        with pytest.raises(grpc.RpcError) as caught:
            next(call)
        assert caught.value.code() == status
