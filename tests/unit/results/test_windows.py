"""Windows and downsampling of curves and trade lists (services/results/windows.py) against pandas."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.adapters.bar_files import Window
from services.domain.dates import parse_date
from services.domain.errors import ConflictError, ValidationError
from services.domain.timeframes import TIMEFRAMES
from services.results.windows import RowWindow

# pandas' rule for each `every`: ISO weeks (Monday 00:00) are 7-day bins from a Monday.
RULES = {"1m": "1min", "5m": "5min", "15m": "15min", "1h": "1h", "1d": "1D", "1w": "7D"}
MONDAY = pd.Timestamp("1970-01-05")


def pandas_last(series: pd.Series, every: str) -> pd.Series:
    """pandas' resample(...).last() dropping empty buckets, indexed by each bucket's last row's own date."""
    origin = {"origin": MONDAY} if every == "1w" else {}
    values = series.resample(RULES[every], **origin).last().dropna()
    dates = series.index.to_series().resample(RULES[every], **origin).last().dropna()
    assert len(values) == len(dates)
    return pd.Series(values.to_numpy(), index=pd.DatetimeIndex(dates.to_numpy()))


def curve_file(series: pd.Series, row_group_rows: int, date_type: pa.DataType | None = None) -> pq.ParquetFile:
    """The curve as the executor stores it (equity, then the date index column), in a ParquetFile in memory."""
    dates = pa.array(series.index.to_numpy())
    if date_type is not None:
        dates = dates.cast(date_type)
    table = pa.table({"equity": pa.array(series.to_numpy()), "date": dates})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=row_group_rows)
    return pq.ParquetFile(io.BytesIO(sink.getvalue()))


def read(window: RowWindow, parquet: pq.ParquetFile, batch_rows: int, column: str = "date") -> tuple[pa.Table, list]:
    clock = window.clock(parquet.schema_arrow, column, "the test's file")
    groups = window.row_groups(parquet.metadata, clock, None)
    batches = parquet.iter_batches(batch_size=batch_rows, row_groups=groups, columns=parquet.schema_arrow.names)
    out = list(window.rows(batches, clock))
    assert all(batch.num_rows for batch in out)  # empty batches are left out
    return pa.Table.from_batches(out, schema=parquet.schema_arrow), groups


def as_series(table: pa.Table) -> pd.Series:
    dates = pd.DatetimeIndex(table.column("date").to_numpy()).as_unit("ns")
    return pd.Series(table.column("equity").to_numpy(), index=dates)


def random_curve(rng: np.random.Generator, n: int, step: str, longest_gap: int = 5000) -> pd.Series:
    """A curve of `n` points a `step` apart, with gaps (nights, weekends) of up to `longest_gap` steps."""
    gaps = np.where(rng.random(n) < 0.02, rng.integers(2, longest_gap, n), 1)
    dates = pd.Timestamp("2019-12-28 09:30") + pd.to_timedelta(np.cumsum(gaps), unit=step)
    return pd.Series(1e5 * np.exp(np.cumsum(rng.normal(0, 1e-3, n))), index=pd.DatetimeIndex(dates))


@pytest.mark.parametrize("every", list(TIMEFRAMES))
@pytest.mark.parametrize("seed", range(3))
def test_every_is_pandas_resample_last_whatever_the_batches(every, seed):
    rng = np.random.default_rng(seed)
    series = random_curve(rng, 30_000, "min")
    parquet = curve_file(series, row_group_rows=int(rng.integers(500, 10_000)))
    got, _ = read(RowWindow(every=every), parquet, batch_rows=int(rng.integers(1, 3000)))
    expected = pandas_last(series, every)
    assert got.num_rows == len(expected)
    assert as_series(got).index.equals(expected.index)
    assert got.column("equity").to_pylist() == expected.tolist()


@pytest.mark.parametrize("seed", range(5))
def test_a_window_then_every_is_pandas_on_the_slice(seed):
    rng = np.random.default_rng(100 + seed)
    series = random_curve(rng, 20_000, "min")
    first, last = sorted(rng.choice(series.index, 2, replace=False))
    start, end = pd.Timestamp(first).isoformat(), (pd.Timestamp(last) + pd.Timedelta(seconds=30)).isoformat()
    every = str(rng.choice(list(TIMEFRAMES)))
    parquet = curve_file(series, row_group_rows=2048)
    got, groups = read(RowWindow.parse(start, end, every), parquet, batch_rows=777)
    expected = pandas_last(series[start:end], every)
    assert as_series(got).index.equals(expected.index)
    assert got.column("equity").to_pylist() == expected.tolist()
    assert len(groups) < parquet.num_row_groups or (first, last) == (series.index[0], series.index[-1])


@pytest.mark.parametrize("seed", range(5))
def test_a_window_is_the_inclusive_slice_and_skips_the_row_groups_outside_it(seed):
    rng = np.random.default_rng(200 + seed)
    series = random_curve(rng, 50_000, "min")
    parquet = curve_file(series, row_group_rows=4096)
    first, last = sorted(rng.integers(0, len(series), 2))
    start, end = series.index[first], series.index[last]
    got, groups = read(RowWindow(start, end), parquet, batch_rows=1000)
    assert as_series(got).equals(series.iloc[first : last + 1])  # both bounds inclusive
    needed = {row // 4096 for row in (first, last)}
    assert set(groups) == set(range(min(needed), max(needed) + 1))  # every other row group skipped

    only_start, _ = read(RowWindow(start=start), parquet, batch_rows=1000)
    only_end, _ = read(RowWindow(end=end), parquet, batch_rows=1000)
    assert as_series(only_start).equals(series.iloc[first:])
    assert as_series(only_end).equals(series.iloc[: last + 1])


def test_start_equal_to_end_is_the_one_point_and_an_empty_window_reads_nothing():
    series = random_curve(np.random.default_rng(7), 10_000, "min")
    parquet = curve_file(series, row_group_rows=1000)
    moment = series.index[4321]
    got, groups = read(RowWindow(moment, moment), parquet, batch_rows=500)
    assert as_series(got).equals(series.iloc[4321:4322]) and groups == [4]
    between = moment + pd.Timedelta(seconds=1)  # after this bar, before the next
    got, groups = read(RowWindow(between, between), parquet, batch_rows=500)
    assert got.num_rows == 0 and groups == [4]
    got, groups = read(RowWindow(pd.Timestamp("2100-01-01"), None, "1d"), parquet, batch_rows=500)
    assert got.num_rows == 0 and groups == []


@pytest.mark.parametrize(
    ("date_type", "offsets"),
    [
        (pa.timestamp("s"), None),
        (pa.timestamp("ms"), "ms"),
        (pa.timestamp("ns"), "ns"),
        (pa.timestamp("us", "America/New_York"), "us"),  # stored as UTC: windows and buckets read UTC
        (pa.date32(), None),
    ],
)
def test_every_unit_of_date_column_windows_and_buckets_by_its_utc_time(date_type, offsets):
    rng = np.random.default_rng(11)
    daily = pa.types.is_date32(date_type)
    series = random_curve(rng, 20_000, "D" if daily else "s", longest_gap=4 if daily else 5000)
    if daily:
        series.index = series.index.normalize()
    if offsets is not None:  # times between whole seconds, where the unit has them
        series.index = series.index + pd.to_timedelta(rng.integers(0, 1000, len(series)), unit=offsets)
    parquet = curve_file(series, row_group_rows=3000, date_type=date_type)
    first, last = series.index[3000], series.index[15000]
    start, end = (first + pd.Timedelta(milliseconds=1)).isoformat(), last.isoformat()
    for every in (None, "1h", "1w"):
        got, _ = read(RowWindow.parse(start, end, every or ""), parquet, batch_rows=1234)
        window = series[(series.index >= parse_date(start)) & (series.index <= parse_date(end))]
        expected = window if every is None else pandas_last(window, every)
        dates = pd.DatetimeIndex(got.column("date").to_pandas())
        if dates.tz is not None:
            dates = dates.tz_convert("UTC").tz_localize(None)
        assert list(dates.as_unit("ns")) == list(expected.index), every
        assert got.column("equity").to_pylist() == expected.tolist(), every


def test_trades_are_chosen_by_entry_date_and_open_ones_are_kept():
    entries = pd.date_range("2020-01-01", periods=200, freq="D")
    trades = pa.table(
        {
            "entry_date": pa.array(entries.to_numpy()),
            "exit_date": pa.array([None if i % 7 == 0 else d + pd.Timedelta(days=30) for i, d in enumerate(entries)]),
            "side": pa.array(["long", "short"] * 100).dictionary_encode(),
            "pnl": np.arange(200, dtype=float),
        }
    )
    sink = io.BytesIO()
    pq.write_table(trades, sink, row_group_size=32)
    parquet = pq.ParquetFile(io.BytesIO(sink.getvalue()))
    window = RowWindow.parse("2020-02-15", "2020-03-10")
    got, groups = read(window, parquet, batch_rows=10, column="entry_date")
    chosen = (entries >= "2020-02-15") & (entries <= "2020-03-10")
    assert got.column("pnl").to_pylist() == np.arange(200, dtype=float)[chosen].tolist()
    assert groups == [1, 2]  # trades 45-69 of row groups 32-63 and 64-95
    assert got.column("exit_date").null_count == int((np.flatnonzero(chosen) % 7 == 0).sum())  # open trades too


def test_a_column_without_dates_cannot_be_windowed():
    table = pa.table({"date": ["2020-01-02"], "equity": [1.0]})
    with pytest.raises(ConflictError, match="cannot be windowed"):
        RowWindow(start=pd.Timestamp("2020-01-01")).clock(table.schema, "date", "equity curve of backtest x")


def test_null_dates_are_never_in_a_window():
    dates = pa.array([0, None, 120, None, 86_400 * 3], pa.timestamp("s"))
    batch = pa.record_batch({"date": dates, "equity": pa.array([1.0, 2.0, 3.0, 4.0, 5.0])})
    clock = RowWindow(start=pd.Timestamp(0)).clock(batch.schema, "date", "x")
    assert clock.cut(batch).column("equity").to_pylist() == [1.0, 3.0, 5.0]
    daily = RowWindow(every="1d")
    got = list(daily.rows(iter([batch]), daily.clock(batch.schema, "date", "x")))
    assert pa.Table.from_batches(got).column("equity").to_pylist() == [3.0, 5.0]


# Parsing: the bars download's (services/domain/dates.parse_bounds), so both read a window alike.

moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1))
spellings = st.sampled_from(["date", "T", " ", "Z", "+05:30"])


def spell(moment: datetime, how: str) -> str:
    if how == "date":
        return moment.date().isoformat()
    if how == "Z":
        return moment.isoformat() + "Z"
    if how == "+05:30":
        return (moment + timedelta(hours=5, minutes=30)).isoformat() + "+05:30"
    return moment.isoformat(sep=how)


@settings(max_examples=300, deadline=None)
@given(moments, spellings, moments, spellings, st.sampled_from(["", *TIMEFRAMES]))
def test_windows_parse_as_the_bars_download_does(start, start_how, end, end_how, every):
    texts = spell(start, start_how), spell(end, end_how)
    try:
        bars = Window.parse(*texts, "json")
    except ValidationError as err:
        with pytest.raises(ValidationError) as ours:
            RowWindow.parse(*texts, every)
        assert ours.value.violations == err.violations == [err.violations[0]]
        assert err.violations[0].field == "end" and parse_date(texts[0]) > parse_date(texts[1])
        return
    window = RowWindow.parse(*texts, every)
    assert (window.start, window.end, window.every) == (bars.start, bars.end, every or None)
    assert window.start == parse_date(texts[0]) and window.end == parse_date(texts[1])
    assert not window.whole


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20), st.text(max_size=20), st.text(max_size=6))
def test_bad_values_are_one_validation_error_naming_each_field(start, end, every):
    def fails(text: str) -> bool:
        try:
            parse_date(text)
        except ValueError:
            return True
        return False

    expected = [name for name, text in (("start", start), ("end", end)) if text and fails(text)]
    if every and every not in TIMEFRAMES:
        expected.append("every")
    try:
        window = RowWindow.parse(start, end, every)
    except ValidationError as err:
        fields = [violation.field for violation in err.violations]
        assert fields == expected or (not expected and fields == ["end"])
        return
    assert not expected
    assert window.whole == (not start and not end and not every)


def test_empty_fields_are_the_whole_artifact():
    assert RowWindow.parse("", "", "").whole and RowWindow.parse("", "").whole
    assert not RowWindow.parse("", "", "1d").whole and not RowWindow.parse("2020-01-01", "").whole
