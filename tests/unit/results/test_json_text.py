"""The service's JSON text of curves and trades is byte for byte what the gateway printed for the typed streams.

The reference is the old path itself: the batch read as the typed stream
reads it (bar_dates, convert), each message serialized and parsed as it
crosses the wire, printed by the local gateway's JsonPrinter with the
platform's print options, joined as the gateway joins a stream.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from numba.core.registry import CPUDispatcher

from gateway.transcoder.descriptors import DescriptorSet
from gateway.transcoder.json_printing import JsonPrinter
from gateway.transcoder.json_scalars import format_double as gateway_format_double
from gateway.transcoder.print_options import load_print_options
from services.results import convert, date_text, number_text, row_printing
from services.results.artifacts import TRADE_COLUMNS, TRADE_DATES
from services.results.bar_dates import BarDateFormatter
from services.results.number_text import format_double
from services.results.row_printing import equity_rows, json_array, trade_rows, warm_up

DESCRIPTOR = Path(__file__).resolve().parents[3] / "gen/descriptor.binpb"
START = np.datetime64("2020-01-02T09:30:00", "s")


@pytest.fixture(scope="module")
def printer() -> JsonPrinter:
    return JsonPrinter(DescriptorSet(str(DESCRIPTOR)), load_print_options())


def _wire(message):
    return type(message).FromString(message.SerializeToString())


def old_equity(printer: JsonPrinter, batches: list[pa.RecordBatch]) -> str:
    """The JSON the gateway printed for GetEquityCurve (Artifacts.equity_rows, convert, the printer)."""
    formatter, objects = BarDateFormatter(), []
    for batch in batches:
        (dates,) = formatter.format(batch.column("date"))
        rows = (dates, batch.column("equity").to_pylist())
        objects += [printer.dumps(_wire(point)) for point in convert.equity_points(rows)]
    return "[" + ",".join(objects) + "]"


def old_trades(printer: JsonPrinter, batches: list[pa.RecordBatch]) -> str:
    """The JSON the gateway printed for GetTrades (Artifacts.trade_rows, convert, the printer)."""
    formatter, objects = BarDateFormatter(), []
    for batch in batches:
        columns = [name for name in TRADE_COLUMNS if name in batch.schema.names]
        dates = [name for name in TRADE_DATES if name in columns]
        rows = {name: batch.column(name).to_pylist() for name in columns if name not in dates}
        rows.update(zip(dates, formatter.format(*(batch.column(name) for name in dates)), strict=True))
        objects += [printer.dumps(_wire(trade)) for trade in convert.trades(rows)]
    return "[" + ",".join(objects) + "]"


def new_text(rows, batches: list[pa.RecordBatch]) -> str:
    return b"".join(json_array(rows(iter(batches)))).decode("utf-8")


def curve(values: list[float], *, step_s: int = 60, start=START) -> pa.Table:
    dates = start + np.arange(len(values)) * np.timedelta64(step_s, "s")
    return pa.table({"date": pa.array(dates, pa.timestamp("ns")), "equity": pa.array(values, pa.float64())})


# Doubles of every kind: hypothesis' floats plus raw bit patterns (subnormals, huge and tiny exponents).
any_double = st.floats(allow_nan=True, allow_infinity=True) | st.integers(0, 2**64 - 1).map(
    lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0]
)
EDGES = [0.0, -0.0, 1e-7, 1e21, 1e15, 1e-4, 9.9999999999999995e-5, 999999999999999.9, 2.0**53 + 2, 0.1, 0.5, 2.5]
EDGES += [2.0**-25, 5e-324, 1.7976931348623157e308, -123456.789, 100000.0, 0.30000000000000004, float("nan")]
EDGES += [float("inf"), float("-inf"), 99999999999999.99, 123456789012345.6, 9.999999999999999e14, 1e16]


@settings(max_examples=300, deadline=None)
@given(st.lists(any_double, min_size=1, max_size=40))
@example(EDGES)
def test_doubles_print_as_the_gateway_printed_them(printer, values):
    table = curve(values)
    assert new_text(equity_rows, table.to_batches()) == old_equity(printer, table.to_batches())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([1.5, 0.0, -0.0, float("nan"), 1e-7, 100000.25, 3.0]), min_size=1, max_size=30))
@example([1.5, 1.5, 0.0, -0.0, -0.0, 0.0, float("nan"), float("nan"), 2.25, 2.25])
def test_flat_stretches_of_a_curve_print_each_value_as_itself(printer, values):
    # Repeated values are copied from the last one's text: -0.0 after 0.0, or NaN after NaN, must not be.
    table = curve(values)
    assert new_text(equity_rows, table.to_batches()) == old_equity(printer, table.to_batches())


@settings(max_examples=300, deadline=None)
@given(any_double)
def test_number_text_matches_the_gateway_and_reads_back_exactly(value):
    table = curve([value])
    text = json.loads(new_text(equity_rows, table.to_batches()))[0]["equity"]
    assert format_double(value) == gateway_format_double(value)
    if math.isnan(value):
        assert text == "NaN"
    elif math.isinf(value):
        assert text == ("Infinity" if value > 0 else "-Infinity")
    else:
        # json.loads reads "-0" as the integer 0; float() of the printed text is the exact double, sign included.
        printed = format_double(value)
        assert float(printed) == value and math.copysign(1, float(printed)) == math.copysign(1, value)
        assert text == value


def test_a_million_random_doubles_in_one_go(printer):
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            1e5 * np.exp(np.cumsum(rng.normal(0, 1e-4, 400_000))),
            rng.uniform(-1, 1, 200_000) * 10.0 ** rng.integers(-6, 17, 200_000),
            np.frombuffer(rng.bytes(8 * 200_000), np.float64),
            np.round(rng.uniform(-1e4, 1e4, 200_000), 2),
        ]
    )
    batches = curve(values.tolist(), step_s=1).to_batches(max_chunksize=65_536)
    got = json.loads(new_text(equity_rows, batches))
    for point, value in zip(got, values.tolist(), strict=True):
        if isinstance(point["equity"], str):
            assert point["equity"] == format_double(value).strip('"')
        else:
            assert point["equity"] == value
    # A sample goes through the old path too, text for text.
    sample = curve(values[::97].tolist(), step_s=1).to_batches()
    assert new_text(equity_rows, sample) == old_equity(printer, sample)


def far_doubles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Normal doubles outside [1e-4, 1e15), of every kind: random magnitudes, short decimals, powers and neighbours."""
    tens = 10.0 ** np.arange(-307, 309)
    twos = 2.0 ** np.arange(-1021, 1024)
    mantissas, places, exponents = rng.uniform(1, 10, n), rng.integers(0, 17, n), rng.integers(-307, 308, n)
    short = [float(f"{m:.{d}f}e{e}") for m, d, e in zip(mantissas, places, exponents, strict=True)]
    values = np.concatenate(
        [
            rng.uniform(-1, 1, n) * 10.0 ** rng.uniform(-308, 308, n),
            np.frombuffer(rng.bytes(8 * n), np.float64),
            short,
            tens, np.nextafter(tens, 0), np.nextafter(tens, np.inf), twos, np.nextafter(twos, 0),
            [9.9999999999999995e-5, 9.999999999999999e-5, 1e15, 999999999999999.9, 1e16, 1e17, 2.2250738585072014e-308],
        ]
    )  # fmt: skip
    values = np.concatenate([values, -values])
    magnitude = np.abs(values)
    return values[
        np.isfinite(values) & (magnitude >= 2.2250738585072014e-308) & ((magnitude < 1e-4) | (magnitude >= 1e15))
    ]


def test_far_doubles_print_as_python_does_without_python():
    # write_double prints |v| < 1e-4 and >= 1e15 from a 106-bit power of ten; what it
    # cannot decide from that it leaves to format_double (row_printing reprints the batch).
    values = far_doubles(np.random.default_rng(11), 20_000)
    got = json.loads(new_text(equity_rows, curve(values.tolist(), step_s=1).to_batches(max_chunksize=8192)))
    for point, value in zip(got, values.tolist(), strict=True):
        assert point["equity"] == value
    texts = b"".join(json_array(equity_rows(curve(values.tolist(), step_s=1).to_batches()))).split(b'"equity":')[1:]
    assert [text[: text.index(b"}")].decode() for text in texts] == [format_double(v) for v in values.tolist()]
    undecided = 0
    out = np.empty(40, np.uint8)
    for value in values.tolist():
        undecided += number_text.write_double_into(value, out, 0) < 0
    assert undecided < len(values) / 1000  # what Python still prints: exact ties of 17-digit values >= 1e15


def test_a_value_write_double_cannot_decide_is_printed_by_python_in_its_row(printer):
    # 1278675322477191.8 * 10 ends in exactly .5: a tie only the exact value decides.
    tie = 1278675322477191.8
    assert number_text.write_double_into(tie, np.empty(40, np.uint8), 0) == -1
    table = curve([3e-7, tie, 2.5e-9, -tie, tie])
    assert new_text(equity_rows, table.to_batches()) == old_equity(printer, table.to_batches())
    rows = [{"entry_date": dt.datetime(2020, 1, 2), "exit_date": None, "side": "long", "entry_price": tie,
             "exit_price": 1e-9, "size": 2.0, "pnl": -tie, "return_pct": tie, "status": "open"}] * 3  # fmt: skip
    table = trade_table(rows)
    assert new_text(trade_rows, table.to_batches()) == old_trades(printer, table.to_batches())


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=30),
    st.sampled_from(["s", "ms", "us", "ns"]),
    st.integers(1, 3),
)
def test_dates_switch_to_date_times_as_bar_dates_does(printer, offsets_min, unit, chunks):
    # Midnight-only batches print dates until a batch has an intraday bar; never back.
    dates = np.datetime64("2001-01-01", unit) + np.array(offsets_min) * np.timedelta64(1440 if unit == "s" else 7, "m")
    table = pa.table({"date": pa.array(dates), "equity": pa.array(np.linspace(1.5, 2.5, len(dates)))})
    batches = table.to_batches(max_chunksize=max(1, len(dates) // chunks))
    assert new_text(equity_rows, batches) == old_equity(printer, batches)


@pytest.mark.parametrize(
    "dates",
    [
        pa.array([dt.date(2020, 1, 2), None, dt.date(1999, 12, 31)], pa.date32()),
        pa.array(["2020-01-02", 'a "quoted" \\ date', None], pa.string()),
        pa.array([dt.datetime(1, 1, 1), dt.datetime(999, 12, 31, 23, 59, 59), dt.datetime(9999, 12, 31, 1)]),
        pa.array([dt.datetime(1000, 1, 1), None, dt.datetime(1969, 12, 31, 23, 59, 59)], pa.timestamp("s")),
        pa.array([dt.datetime(2020, 3, 1, 5, tzinfo=dt.UTC)] * 3, pa.timestamp("ms", tz="America/New_York")),
    ],
    ids=["date32", "strings", "far-years", "nulls-and-1969", "tz-aware"],
)
def test_date_columns_of_every_kind(printer, dates):
    table = pa.table({"date": dates, "equity": pa.array([1.0, None, -2.5])})
    assert new_text(equity_rows, table.to_batches()) == old_equity(printer, table.to_batches())


def test_an_empty_curve_is_an_empty_array(printer):
    table = curve([])
    assert new_text(equity_rows, table.to_batches()) == "[]" == old_equity(printer, table.to_batches())
    assert new_text(equity_rows, []) == "[]"


text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
maybe_day = st.none() | st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2030, 1, 1))
trade = st.fixed_dictionaries(
    {
        "entry_date": maybe_day,
        "exit_date": maybe_day,
        "side": st.none() | st.sampled_from(["long", "short"]) | text,
        "entry_price": any_double,
        "exit_price": any_double,
        "size": st.none() | any_double,
        "pnl": any_double,
        "return_pct": any_double,
        "status": st.sampled_from(["closed", "open"]) | text,
    }
)


def trade_table(rows: list[dict], drop: tuple[str, ...] = ()) -> pa.Table:
    columns = {}
    for name in TRADE_COLUMNS:
        if name in drop:
            continue
        values = [row[name] for row in rows]
        if name in TRADE_DATES:
            columns[name] = pa.array(values, pa.timestamp("ns"))
        elif name in ("side", "status"):
            columns[name] = pa.array(values, pa.string())
        else:
            columns[name] = pa.array(values, pa.float64())
    return pa.table(columns)


@settings(max_examples=200, deadline=None)
@given(st.lists(trade, max_size=25), st.sets(st.sampled_from(TRADE_COLUMNS), max_size=3), st.integers(1, 4))
def test_trades_print_as_the_gateway_printed_them(printer, rows, drop, chunks):
    table = trade_table(rows, tuple(drop))
    if table.num_columns == 0:
        return
    batches = table.to_batches(max_chunksize=max(1, len(rows) // chunks))
    assert new_text(trade_rows, batches) == old_trades(printer, batches)
    # The service reads the text columns as dictionaries (as the executor stores them), nulls included.
    texts = [name for name in ("side", "status") if name in table.column_names]
    encoded = [_dictionary_encoded(batch, texts) for batch in batches]
    assert new_text(trade_rows, encoded) == old_trades(printer, batches)


def _dictionary_encoded(batch: pa.RecordBatch, names: list[str]) -> pa.RecordBatch:
    pairs = zip(batch.schema.names, batch.columns, strict=True)
    columns = [pc.dictionary_encode(column) if name in names else column for name, column in pairs]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def test_an_open_trade_has_no_exit_date_and_a_run_without_trades_is_empty(printer):
    rows = [
        {
            "entry_date": dt.datetime(2020, 1, 2, 9, 31),
            "exit_date": None,
            "side": "long",
            "entry_price": 101.25,
            "exit_price": 102.0,
            "size": 10,
            "pnl": 7.5,
            "return_pct": 0.0074,
            "status": "open",
        }
    ]
    table = trade_table(rows)
    body = new_text(trade_rows, table.to_batches())
    assert body == old_trades(printer, table.to_batches())
    assert json.loads(body) == [
        {
            "entry_date": "2020-01-02T09:31:00",
            "side": "long",
            "entry_price": 101.25,
            "exit_price": 102,
            "size": 10,
            "pnl": 7.5,
            "return_pct": 0.0074,
            "status": "open",
        }
    ]
    assert new_text(trade_rows, trade_table([]).to_batches()) == "[]"


def test_the_closing_bracket_rides_on_the_last_chunk():
    assert list(json_array([b",1", b",2", b"", b",3"])) == [b"[1", b",2", b",3]"]
    assert list(json_array([])) == [b"[]"]


def test_the_warm_up_compiles_every_printing_loop_each_batch_needs():
    # The service warms up before it listens; a batch of a kind the warm-up did not print would
    # compile the loop again for its argument types, in the request (the trade loop for seconds).
    warm_up()
    kernels = [
        value
        for module in (row_printing, number_text, date_text)
        for value in vars(module).values()
        if isinstance(value, CPUDispatcher)
    ]
    compiled = {kernel: len(kernel.signatures) for kernel in kernels}
    for dates in (
        pa.array([dt.date(2020, 1, 2), None], pa.date32()),
        pa.array(["2020-01-02", None], pa.string()),
        pa.array([dt.datetime(2020, 3, 1, 5, tzinfo=dt.UTC)] * 2, pa.timestamp("ms", tz="America/New_York")),
        pa.array([dt.datetime(1000, 1, 1), dt.datetime(2020, 1, 2, 9, 30)], pa.timestamp("us")),
        pa.array([dt.datetime(2020, 1, 2, 9, 30), None], pa.timestamp("ns")),
    ):
        new_text(equity_rows, [pa.record_batch({"date": dates, "equity": pa.array([1, None], pa.int64())})])
        new_text(equity_rows, [pa.record_batch({"date": dates, "equity": pa.array([1e-7, 2.5])})])
    rows = [{"entry_date": dt.datetime(2020, 1, 2), "exit_date": None, "side": "long", "entry_price": 1.5,
             "exit_price": float("nan"), "size": None, "pnl": -2.25, "return_pct": 1e21, "status": "open"}]  # fmt: skip
    new_text(trade_rows, trade_table(rows).to_batches())
    new_text(trade_rows, trade_table(rows, ("exit_date", "side", "size")).to_batches())
    # One signature each, the warm-up's (none for the helpers numba inlines into their callers).
    assert {kernel.__name__: len(kernel.signatures) for kernel in kernels} == {
        kernel.__name__: count for kernel, count in compiled.items()
    }
    assert all(count <= 1 for count in compiled.values()), compiled
    assert compiled[row_printing._print_equity] == compiled[row_printing._print_trades] == 1


def _decimal(digits: int, places: int, exponent: int) -> float:
    return float(f"{digits}e{exponent - places}")


# Doubles where the digit writer's cases meet: short decimals (trailing zeros to strip, the 15-digit
# text reading back), their neighbours (17 digits), ties of the 16th digit, whole numbers up to and
# past 10^15, every exponent %g prints fixed or with an exponent, subnormal and huge neighbours.
decimal = st.builds(_decimal, st.integers(1, 10**17 - 1), st.integers(0, 17), st.integers(-330, 310))
neighbour = st.builds(lambda v, up: float(np.nextafter(v, np.inf if up else 0)), decimal, st.booleans())
tie = st.builds(lambda n, e: (n + 0.5) * 10.0**e, st.integers(10**14, 10**15), st.integers(-20, 5))
whole = st.integers(1, 2**60).map(float) | st.integers(10**15 - 10**4, 10**15 + 10**4).map(float)
edge_double = (decimal | neighbour | tie | whole | any_double).filter(math.isfinite)


@settings(max_examples=2000, deadline=None)
@given(edge_double, st.booleans())
@example(9.999999999999999e14, False)
@example(1e15, True)
@example(2.2250738585072014e-308, False)
@example(9.9999999999999995e-5, True)
def test_the_compiled_digit_writer_prints_what_format_double_prints(value, negative):
    value = -value if negative else value
    if value == 0 or abs(value) < 2.2250738585072014e-308:
        return  # zero and subnormals are always printed by format_double (reference_texts)
    out = np.full(64, 0xFF, np.uint8)
    end = number_text.write_double_into(value, out, 0)
    if end < 0:  # undecided: only ever outside [1e-4, 1e15), and Python prints it
        assert not 1e-4 <= abs(value) < 1e15
        return
    assert bytes(out[:end]).decode() == format_double(value)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-30_610_224_000, 253_402_300_799), min_size=1, max_size=20),
    st.sampled_from(["s", "ms", "us"]),
)
def test_date_times_of_every_second_in_years_1000_to_9999_print_as_bar_dates_does(printer, seconds, unit):
    # write_date's day words and minute table against bar_dates' strftime, one day apart or far apart.
    dates = np.array(seconds, "datetime64[s]").astype(f"datetime64[{unit}]")
    table = pa.table({"date": pa.array(dates), "equity": pa.array(np.full(len(dates), 2.5))})
    assert new_text(equity_rows, table.to_batches()) == old_equity(printer, table.to_batches())


@settings(max_examples=200, deadline=None)
@given(st.data(), st.sampled_from(["ms", "us", "ns"]), st.integers(1, 3))
def test_fractions_of_a_second_are_cut_toward_zero_as_bar_dates_does(printer, data, unit, chunks):
    # bar_dates casts to whole seconds toward zero (-1.5 s is 1969-12-31T23:59:59, -0.5 s is 1970-01-01T00:00:00);
    # date_text divides on its own, into an array it keeps from batch to batch.
    per_second = {"ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    low, high = (-9 * 10**9, 9 * 10**9) if unit == "ns" else (-30_610_224_000, 253_402_300_799)  # int64 nanoseconds
    seconds = data.draw(st.lists(st.integers(low, high) | st.sampled_from([-2, -1, 0, 1]), min_size=1, max_size=20))
    fraction = st.integers(-(per_second - 1), per_second - 1) | st.sampled_from([-per_second // 2, -1, 1])
    values = [second * per_second + data.draw(fraction) for second in seconds]
    table = pa.table({"date": pa.array(values, pa.timestamp(unit)), "equity": pa.array(np.full(len(values), 2.5))})
    batches = table.to_batches(max_chunksize=max(1, len(values) // chunks))
    assert new_text(equity_rows, batches) == old_equity(printer, batches)


def test_the_integer_log10_of_powers_of_two_is_the_float_one_for_every_double_exponent():
    log10_of_power_of_two = number_text._log10_of_power_of_two  # compiled, as write_double uses it
    for power in range(-1100, 1100):
        assert log10_of_power_of_two(power) == math.floor(power * 0.3010299956639812), power
