"""The executor's artifacts in real S3, read back by the results service's reader."""

from __future__ import annotations

import io
import uuid

import numpy as np
import pandas as pd
import pytest

from services.adapters.object_store import PARQUET_CONTENT_TYPE, ObjectStore, S3Location
from services.domain.errors import ConflictError
from services.domain.execution import EngineResult, Trade
from services.executor.artifacts import (
    ROW_GROUP_ROWS,
    equity_frame,
    trades_frame,
    write_artifacts,
    write_batch_artifacts,
)
from services.results.artifacts import EQUITY, TRADES, Artifacts
from services.results.records import COMPLETED, BacktestRecord


def result(trades: int, bars: int = 4000) -> EngineResult:
    index = pd.bdate_range("2010-01-01", periods=bars, unit="us")
    equity = pd.Series(1e5 + np.arange(float(bars)), index=index)
    made = [
        Trade(
            index[10 * k],
            None if k == trades - 1 else index[10 * k + 5],
            "long",
            100.0 + k,
            101.0 + k,
            10.0,
            5.0 * k,
            0.001 * k,
            "open" if k == trades - 1 else "closed",
        )
        for k in range(trades)
    ]
    return EngineResult(equity=equity, position=pd.Series(0.0, index=index), trades=made)


def test_results_service_reads_what_the_executor_writes(s3):
    store = ObjectStore(S3Location(s3.endpoint, s3.access_key, s3.secret_key, s3.bucket))
    run = result(trades=3)
    equity_uri, trades_uri = write_artifacts(store, "b1", "job1", 2, run)
    assert (equity_uri, trades_uri) == (
        store.uri("artifacts/b1/job1/2/equity.parquet"),
        store.uri("artifacts/b1/job1/2/trades.parquet"),
    )
    for uri in (equity_uri, trades_uri):
        stat = store.client.stat_object(store.bucket, store.key_of(uri))
        assert stat.content_type == PARQUET_CONTENT_TYPE
    equity, trades = (io.BytesIO(store.get_bytes(f"artifacts/b1/job1/2/{n}.parquet")) for n in ("equity", "trades"))
    pd.testing.assert_frame_equal(pd.read_parquet(equity), equity_frame(run), check_freq=False)
    pd.testing.assert_frame_equal(pd.read_parquet(trades), trades_frame(run))

    record = BacktestRecord("b1", "vectorbt", COMPLETED, equity_curve_uri=equity_uri, trades_uri=trades_uri)
    reader = Artifacts(store)
    dates, values = zip(*reader.equity_rows(record), strict=True)
    assert sum(dates, [])[:2] == ["2010-01-01", "2010-01-04"] and sum(values, []) == run.equity.tolist()
    (rows,) = list(reader.trade_rows(record))
    assert rows["exit_date"] == ["2010-01-08", "2010-01-22", None]
    assert rows["status"] == ["closed", "closed", "open"] and rows["pnl"] == [0.0, 5.0, 10.0]


def test_a_run_without_trades_stores_an_empty_trade_list(s3):
    store = ObjectStore(S3Location(s3.endpoint, s3.access_key, s3.secret_key, s3.bucket))
    _, trades_uri = write_artifacts(store, "b0", "job0", 1, result(trades=0))
    record = BacktestRecord("b0", "vectorbt", COMPLETED, equity_curve_uri=store.uri("x"), trades_uri=trades_uri)
    assert list(Artifacts(store).trade_rows(record)) == []
    assert list(pd.read_parquet(io.BytesIO(store.get_bytes("artifacts/b0/job0/1/trades.parquet"))).columns) == list(
        trades_frame(result(0)).columns
    )


def test_a_batch_is_two_files_and_each_run_reads_as_its_own(s3):
    store = ObjectStore(S3Location(s3.endpoint, s3.access_key, s3.secret_key, s3.bucket))
    # One run longer than a row group, one without trades, one small.
    long_id, none_id, one_id = (str(uuid.uuid4()) for _ in range(3))
    runs = [
        (long_id, result(trades=4, bars=ROW_GROUP_ROWS + 100)),
        (none_id, result(trades=0)),
        (one_id, result(trades=1)),
    ]
    uris = write_batch_artifacts(store, "j1", 1, runs)
    assert [key for key, _ in store.list_keys("artifacts/jobs/j1/")] == [
        "artifacts/jobs/j1/1/equity.parquet",
        "artifacts/jobs/j1/1/trades.parquet",
    ]
    assert uris[1] == (
        store.uri(f"artifacts/jobs/j1/1/equity.parquet#{none_id}"),
        store.uri(f"artifacts/jobs/j1/1/trades.parquet#{none_id}"),
    )

    reader = Artifacts(store)
    for (run_id, run), (equity_uri, trades_uri) in zip(runs, uris, strict=True):
        record = BacktestRecord(run_id, "vectorbt", COMPLETED, equity_curve_uri=equity_uri, trades_uri=trades_uri)
        values = sum((batch for _, batch in reader.equity_rows(record)), [])
        assert values == run.equity.tolist()
        pnl = sum((rows["pnl"] for rows in reader.trade_rows(record)), [])
        assert pnl == [t.pnl for t in run.trades]
        # The download is the run's own file, as a run alone would have stored it.
        equity_file = b"".join(reader.file_chunks(record, EQUITY))
        pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(equity_file)), equity_frame(run), check_freq=False)
        trades_file = b"".join(reader.file_chunks(record, TRADES))
        pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(trades_file)), trades_frame(run))


@pytest.mark.parametrize("read", ["rows", "download"])
def test_a_run_missing_from_its_batch_file_is_a_conflict(s3, read):
    store = ObjectStore(S3Location(s3.endpoint, s3.access_key, s3.secret_key, s3.bucket))
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    equity_uri, _ = write_batch_artifacts(store, "j2", 1, [(a, result(1)), (b, result(2))])[0]
    record = BacktestRecord(c, "vectorbt", COMPLETED, equity_curve_uri=equity_uri.replace(f"#{a}", f"#{c}"))
    reader = Artifacts(store)
    with pytest.raises(ConflictError, match="missing from its batch file"):
        list(reader.equity_rows(record)) if read == "rows" else reader.file_chunks(record, EQUITY)
