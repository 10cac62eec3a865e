"""How many GETs reading an artifact costs, against real S3: a small file is one GET, a large one ranged reads."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from services.results import artifacts as artifacts_module
from services.results.artifacts import Artifacts
from services.results.records import BacktestRecord
from tests.integration.results.conftest import put_parquet, synthetic_trades


@pytest.fixture
def counted(store, monkeypatch) -> list[tuple[int, int]]:
    """(offset, length) of every ranged GET the store's client makes from now on."""
    gets: list[tuple[int, int]] = []
    get_object = store.client.get_object

    def counting(bucket, key, offset=0, length=0, **kwargs):
        gets.append((offset, length))
        return get_object(bucket, key, offset=offset, length=length, **kwargs)

    monkeypatch.setattr(store.client, "get_object", counting)
    return gets


def _record(store, equity: pd.DataFrame, trades: pd.DataFrame) -> BacktestRecord:
    run = uuid.uuid4().hex
    return BacktestRecord(
        id=run,
        engine="vectorbt",
        status="completed",
        equity_curve_uri=put_parquet(store, f"artifacts/read-tests/{run}/equity.parquet", equity),
        trades_uri=put_parquet(store, f"artifacts/read-tests/{run}/trades.parquet", trades, index=False),
    )


def _frames(rows: int, trades: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    index = pd.date_range("2021-03-01", periods=rows, freq="min", name="date")
    equity = pd.DataFrame({"equity": 1e5 + rng.normal(0, 50, rows).cumsum()}, index=index)
    entries = pd.Series(index[: trades * 2 : 2])
    exits = pd.Series(index[1 : trades * 2 : 2])
    return equity, synthetic_trades(rng, entries, exits, rng.random(trades) < 0.01)


def test_a_small_curve_and_trade_list_are_one_get_each_and_read_as_stored(store, counted) -> None:
    equity, trades = _frames(40_000, 5_000)
    record = _record(store, equity, trades)
    reader = Artifacts(store)

    curve = pa.Table.from_batches(list(reader.equity_batches(record, 4096)))
    assert len(counted) == 1 and counted[0][0] == 0  # the whole object, from its start
    assert curve.column("equity").to_pylist() == equity["equity"].tolist()
    assert curve.column("date").cast(pa.int64()).to_pylist() == equity.index.asi8.tolist()

    counted.clear()
    listed = pa.Table.from_batches(list(reader.trade_batches(record, 4096)))
    assert len(counted) == 1 and counted[0][0] == 0
    assert pa.types.is_dictionary(listed.schema.field("side").type)  # as the printer wants them
    assert listed.column("pnl").to_pylist() == trades["pnl"].tolist()
    assert listed.column("side").cast(pa.string()).to_pylist() == trades["side"].tolist()


def test_a_curve_above_the_limit_keeps_ranged_reads(store, counted, monkeypatch) -> None:
    equity, trades = _frames(40_000, 5_000)
    record = _record(store, equity, trades)
    monkeypatch.setattr(artifacts_module, "WHOLE_READ_BYTES", 64 * 1024)  # this file is larger
    curve = pa.Table.from_batches(list(Artifacts(store).equity_batches(record, 4096)))
    assert len(counted) >= 2 and counted[0][0] > 0  # the footer's block first, from the end
    assert curve.column("equity").to_pylist() == equity["equity"].tolist()
