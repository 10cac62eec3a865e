"""The executor's artifacts in real S3, read back by the results service's reader."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from services.adapters.object_store import PARQUET_CONTENT_TYPE, ObjectStore, S3Location
from services.domain.execution import EngineResult, Trade
from services.executor.artifacts import equity_frame, trades_frame, write_artifacts
from services.results.artifacts import Artifacts
from services.results.records import COMPLETED, BacktestRecord


def result(trades: int) -> EngineResult:
    index = pd.bdate_range("2010-01-01", periods=4000, unit="us")
    equity = pd.Series(1e5 + np.arange(4000.0), index=index)
    made = [Trade(index[10 * k], None if k == trades - 1 else index[10 * k + 5], "long", 100.0 + k, 101.0 + k,
                  10.0, 5.0 * k, 0.001 * k, "open" if k == trades - 1 else "closed") for k in range(trades)]
    return EngineResult(equity=equity, position=pd.Series(0.0, index=index), trades=made)


def test_results_service_reads_what_the_executor_writes(s3):
    store = ObjectStore(S3Location(s3.endpoint, s3.access_key, s3.secret_key, s3.bucket))
    run = result(trades=3)
    equity_uri, trades_uri = write_artifacts(store, "b1", run)
    assert (equity_uri, trades_uri) == (store.uri("artifacts/b1/equity.parquet"), store.uri("artifacts/b1/trades.parquet"))
    for uri in (equity_uri, trades_uri):
        stat = store.client.stat_object(store.bucket, store.key_of(uri))
        assert stat.content_type == PARQUET_CONTENT_TYPE
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(store.get_bytes("artifacts/b1/equity.parquet"))),
                                  equity_frame(run), check_freq=False)
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(store.get_bytes("artifacts/b1/trades.parquet"))),
                                  trades_frame(run))

    record = BacktestRecord("b1", "vectorbt", COMPLETED, equity_curve_uri=equity_uri, trades_uri=trades_uri)
    reader = Artifacts(store)
    dates, values = zip(*reader.equity_rows(record))
    assert sum(dates, [])[:2] == ["2010-01-01", "2010-01-04"] and sum(values, []) == run.equity.tolist()
    (rows,) = list(reader.trade_rows(record))
    assert rows["exit_date"] == ["2010-01-08", "2010-01-22", None]
    assert rows["status"] == ["closed", "closed", "open"] and rows["pnl"] == [0.0, 5.0, 10.0]


def test_a_run_without_trades_stores_an_empty_trade_list(s3):
    store = ObjectStore(S3Location(s3.endpoint, s3.access_key, s3.secret_key, s3.bucket))
    _, trades_uri = write_artifacts(store, "b0", result(trades=0))
    record = BacktestRecord("b0", "vectorbt", COMPLETED, equity_curve_uri=store.uri("x"), trades_uri=trades_uri)
    assert list(Artifacts(store).trade_rows(record)) == []
    assert list(pd.read_parquet(io.BytesIO(store.get_bytes("artifacts/b0/trades.parquet"))).columns) == list(trades_frame(result(0)).columns)
