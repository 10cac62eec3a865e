"""The executor's Parquet artifacts: built from arrays, read back as the frames pandas used to write."""

from __future__ import annotations

import dataclasses
import io
import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.adapters.object_store import PARQUET_CONTENT_TYPE
from services.domain.execution import EngineResult, Trade, TradeList, trade_columns
from services.executor import artifacts
from services.executor.artifacts import (
    TRADE_COLUMNS,
    equity_frame,
    equity_parquet,
    trades_frame,
    trades_parquet,
    write_artifacts,
)
from services.results.bar_dates import BarDateFormatter


def legacy_equity(result: EngineResult) -> bytes:
    """The equity file as the executor wrote it before: a DataFrame through to_parquet."""
    frame = pd.DataFrame(
        {"equity": result.equity.to_numpy(dtype="float64")}, index=pd.DatetimeIndex(result.equity.index, name="date")
    )
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=True, row_group_size=65536)
    return buffer.getvalue()


def legacy_trades(result: EngineResult) -> bytes:
    """The trades file as the executor wrote it before: per-trade dicts, a DataFrame, to_parquet."""
    frame = pd.DataFrame(
        [{name: getattr(t, name) for name in TRADE_COLUMNS} for t in result.trades], columns=TRADE_COLUMNS
    )
    frame["entry_date"] = pd.to_datetime(frame["entry_date"])
    frame["exit_date"] = pd.to_datetime(frame["exit_date"])
    for name in ("entry_price", "exit_price", "size", "pnl", "return_pct"):
        frame[name] = frame[name].astype("float64")
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, row_group_size=65536)
    return buffer.getvalue()


def run_result(n_bars: int = 4000, n_trades: int = 40, *, unit: str = "us", open_last: bool = True) -> EngineResult:
    """A result shaped like an engine's: bar-index timestamps, numpy floats, the last trade open."""
    rng = np.random.default_rng(3)
    index = pd.bdate_range("2008-01-01", periods=n_bars, unit=unit)
    equity = pd.Series(100_000 * np.exp(np.cumsum(rng.normal(0, 0.01, n_bars))), index=index)
    bars = np.sort(rng.choice(n_bars, size=2 * n_trades, replace=False)).reshape(-1, 2)
    trades = []
    for k, (entry, exit_) in enumerate(bars):
        is_open = open_last and k == n_trades - 1
        pnl = np.float64(rng.normal(0, 500))
        trades.append(
            Trade(
                entry_date=index[entry],
                exit_date=None if is_open else index[exit_],
                side="long" if k % 3 else "short",
                entry_price=np.float64(100 + k),
                exit_price=np.float64(101 + k),
                size=np.float64(10 * (k + 1)),
                pnl=pnl,
                return_pct=pnl / 1e5,
                status="open" if is_open else "closed",
            )
        )
    return EngineResult(equity=equity, position=pd.Series(0.0, index=index), trades=trades, traded_notional=1.0)


def read(data: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(data))


CASES = {
    "daily run, last trade open": run_result(),
    "all trades closed": run_result(300, 5, open_last=False),
    "one open trade only": run_result(50, 1),
    "nanosecond bars": run_result(500, 6, unit="ns"),
}


@pytest.mark.parametrize("name", CASES)
def test_files_read_back_as_the_frames_and_as_the_legacy_files(name):
    result = CASES[name]
    equity, trades = read(equity_parquet(result)), read(trades_parquet(result))
    pd.testing.assert_frame_equal(equity, equity_frame(result), check_freq=False)
    pd.testing.assert_frame_equal(trades, trades_frame(result))
    pd.testing.assert_frame_equal(equity, read(legacy_equity(result)), check_freq=False)
    if name != "one open trade only":  # before, a column of only nulls lost its type (see test below)
        pd.testing.assert_frame_equal(trades, read(legacy_trades(result)))
        # Same Arrow schema and pandas metadata, byte for byte.
        assert pq.read_schema(io.BytesIO(trades_parquet(result))) == pq.read_schema(io.BytesIO(legacy_trades(result)))
        assert (
            pq.read_schema(io.BytesIO(trades_parquet(result))).metadata
            == pq.read_schema(io.BytesIO(legacy_trades(result))).metadata
        )
    new, old = pq.read_schema(io.BytesIO(equity_parquet(result))), pq.read_schema(io.BytesIO(legacy_equity(result)))
    # The same schema and pandas metadata, but for the columns, required when they hold no null.
    assert old.field("equity").nullable and old.field("date").nullable
    assert new == required(old, "equity", "date") and new.metadata == old.metadata


def required(schema: pa.Schema, *names: str) -> pa.Schema:
    for name in names:
        index = schema.get_field_index(name)
        schema = schema.set(index, schema.field(index).with_nullable(False))
    return schema


def test_the_layout_the_results_service_reads():
    result = CASES["daily run, last trade open"]
    equity, trades = read(equity_parquet(result)), read(trades_parquet(result))
    assert equity.index.name == "date" and list(equity.columns) == ["equity"]
    assert equity["equity"].dtype == "float64" and equity.index.dtype == "datetime64[us]"
    assert list(trades.columns) == TRADE_COLUMNS and isinstance(trades.index, pd.RangeIndex)
    assert trades["exit_date"].isna().tolist() == [False] * 39 + [True]
    assert trades["status"].tolist()[-2:] == ["closed", "open"]
    assert trades["entry_price"].tolist() == [t.entry_price for t in result.trades]
    # What the results service prints for the open trade: a null exit date.
    table = pq.read_table(io.BytesIO(trades_parquet(result)))
    entry, exit_ = BarDateFormatter().format(
        table.column("entry_date").combine_chunks(), table.column("exit_date").combine_chunks()
    )
    assert exit_[-1] is None and entry[0] == result.trades[0].entry_date.strftime("%Y-%m-%d")


def test_zero_trades_store_a_typed_empty_list():
    result = run_result(200, 0)
    trades = read(trades_parquet(result))
    pd.testing.assert_frame_equal(trades, trades_frame(result))
    assert len(trades) == 0 and list(trades.columns) == TRADE_COLUMNS
    full = pq.read_schema(io.BytesIO(trades_parquet(CASES["daily run, last trade open"])))
    assert pq.read_schema(io.BytesIO(trades_parquet(result))) == full  # same types as a run with trades
    pd.testing.assert_frame_equal(read(equity_parquet(result)), equity_frame(result), check_freq=False)


def test_nan_equity_is_stored_as_null_like_pandas_did():
    result = run_result(100, 2)
    result.equity.iloc[5] = np.nan
    assert pq.read_table(io.BytesIO(equity_parquet(result))).column("equity").null_count == 1
    pd.testing.assert_frame_equal(read(equity_parquet(result)), read(legacy_equity(result)), check_freq=False)
    # A column with a null stays optional, the other is required.
    new, old = pq.read_schema(io.BytesIO(equity_parquet(result))), pq.read_schema(io.BytesIO(legacy_equity(result)))
    assert new.field("equity").nullable and new == required(old, "date") and new.metadata == old.metadata


def test_a_nat_date_keeps_the_date_column_optional():
    result = run_result(100, 0)
    dates = result.equity.index.to_numpy().copy()
    dates[3] = np.datetime64("NaT")
    result = dataclasses.replace(result, equity=pd.Series(result.equity.to_numpy(), index=pd.DatetimeIndex(dates)))
    table = pq.read_table(io.BytesIO(equity_parquet(result)))
    assert table.column("date").null_count == 1 and table.schema.field("date").nullable
    assert not table.schema.field("equity").nullable
    pd.testing.assert_frame_equal(read(equity_parquet(result)), read(legacy_equity(result)), check_freq=False)


def test_equity_statistics_cover_the_dates_only():
    parquet = pq.ParquetFile(io.BytesIO(equity_parquet(CASES["daily run, last trade open"])))
    names = parquet.schema_arrow.names
    group = parquet.metadata.row_group(0)
    dates = group.column(names.index("date")).statistics
    assert dates is not None and dates.has_min_max
    assert group.column(names.index("equity")).statistics is None


def test_a_long_curve_with_one_nan_keeps_one_schema_across_its_pieces():
    # Over 4 row groups the file is encoded in two pieces: the NaN lies in the second only.
    result = run_result(300_000, 2)
    result.equity.iloc[-3] = np.nan
    table = pq.read_table(io.BytesIO(equity_parquet(result)))
    assert table.schema.field("equity").nullable and table.column("equity").null_count == 1
    pd.testing.assert_frame_equal(read(equity_parquet(result)), read(legacy_equity(result)), check_freq=False)


class RecordingStore:
    """put_bytes of an ObjectStore, recording what arrives on which thread; can fail one key."""

    def __init__(self, fail: str | None = None) -> None:
        self.puts: dict[str, tuple[bytes, str, str]] = {}
        self.fail = fail

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "") -> str:
        if self.fail and key.endswith(self.fail):
            raise OSError(f"cannot store {key}")
        self.puts[key] = (data, content_type, threading.current_thread().name)
        return f"s3://bucket/{key}"


def test_write_artifacts_puts_both_files_and_returns_their_uris():
    result, store = CASES["daily run, last trade open"], RecordingStore()
    uris = write_artifacts(store, "b1", "t1", 3, result)  # the files of attempt 3 of job t1
    assert uris == ("s3://bucket/artifacts/b1/t1/3/equity.parquet", "s3://bucket/artifacts/b1/t1/3/trades.parquet")
    equity, equity_type, equity_thread = store.puts["artifacts/b1/t1/3/equity.parquet"]
    trades, trades_type, _ = store.puts["artifacts/b1/t1/3/trades.parquet"]
    assert equity_type == trades_type == PARQUET_CONTENT_TYPE
    assert equity_thread.startswith("artifact-put")  # uploaded alongside the trades
    pd.testing.assert_frame_equal(read(equity), equity_frame(result), check_freq=False)
    pd.testing.assert_frame_equal(read(trades), trades_frame(result))


@pytest.mark.parametrize("failing", ["equity.parquet", "trades.parquet"])
def test_a_failed_put_fails_the_call_after_the_other_finished(failing):
    store = RecordingStore(fail=failing)
    with pytest.raises(OSError, match=failing):
        write_artifacts(store, "b2", "t2", 1, CASES["all trades closed"])
    assert len(store.puts) == 1  # the other upload completed before the error surfaced


class GatedStore(RecordingStore):
    """Holds the equity file's PUT until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "") -> str:
        if key.endswith("equity.parquet"):
            assert self.release.wait(10), "the equity PUT was never let go"
        return super().put_bytes(key, data, content_type=content_type)

    bucket = "bucket"

    def key_of(self, uri: str) -> str:
        return uri.removeprefix("s3://bucket/")


@pytest.mark.parametrize("batch", [False, True])
def test_encoded_equity_is_called_while_the_equity_file_uploads(batch):
    """The executor starts a run's metrics from this call: after the encode, before the PUT ends."""
    store, calls = GatedStore(), []

    def encoded() -> None:
        calls.append(dict(store.puts))  # what was stored when it was called
        store.release.set()

    result = CASES["daily run, last trade open"]
    if batch:
        artifacts.write_batch_artifacts(store, "t9", 1, [("b1", result), ("b2", result)], encoded)
    else:
        write_artifacts(store, "b9", "t9", 1, result, encoded)
    assert calls == [{}]  # once, with nothing stored yet
    assert len(store.puts) == 2


def test_encoded_equity_is_called_when_the_encode_fails(monkeypatch):
    calls = []
    monkeypatch.setattr(artifacts, "equity_parquet", lambda result: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_artifacts(RecordingStore(), "b8", "t8", 1, CASES["all trades closed"], lambda: calls.append(1))
    assert calls == [1]


def test_warm_uploads_starts_the_upload_thread():
    artifacts.warm_uploads()
    assert any(t.name.startswith("artifact-put") for t in threading.enumerate())


@pytest.mark.parametrize("name", CASES)
def test_trades_held_as_columns_store_the_same_files_as_a_list(name):
    """An engine's TradeList (columns) reads back as the same Trades and stores byte-identical files."""
    listed = CASES[name]
    columns = trade_columns(listed.trades, listed.equity.index)
    held = EngineResult(listed.equity, listed.position, TradeList(columns), listed.traded_notional)
    assert held.trades == listed.trades and list(held.trades) == listed.trades
    assert held.trades[-1] == listed.trades[-1] and held.trades[1:3] == listed.trades[1:3]
    assert trades_parquet(held) == trades_parquet(listed)
    pd.testing.assert_frame_equal(trades_frame(held), trades_frame(listed))
    batch = artifacts.trades_tables([held, listed, held])
    assert [table.num_rows for table in batch] == [len(listed.trades)] * 3
    assert batch[0].equals(artifacts.trades_table(listed)) and batch[2].equals(batch[1])
