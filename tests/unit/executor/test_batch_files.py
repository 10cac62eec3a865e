"""Batch artifact files: each run's part reads back as exactly the file a run on its own stores."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow.parquet as pq
import pytest

from services.adapters.artifact_encoding import EQUITY_ENCODING, TRADES_ENCODING
from services.adapters.batch_parquet import batch_parquet, run_file_chunks, run_row_groups
from services.executor.artifacts import (
    equity_parquet,
    equity_table,
    equity_tables,
    trades_parquet,
    trades_table,
    trades_tables,
)
from tests.unit.executor.test_executor_artifacts import run_result


def runs() -> list[tuple[str, object]]:
    """Three runs: a long one, one without trades, one with a single (open) trade."""
    return [
        ("run-a", run_result(n_bars=700, n_trades=30)),
        ("run-b", run_result(n_bars=700, n_trades=0)),
        ("run-c", run_result(n_bars=700, n_trades=1)),
    ]


ENCODING_OF = {equity_table: EQUITY_ENCODING, trades_table: TRADES_ENCODING}


def batch(table_of, row_group_rows: int) -> pq.ParquetFile:
    data = batch_parquet(
        [(i, table_of(r)) for i, r in runs()], row_group_rows=row_group_rows, encoding=ENCODING_OF[table_of]
    )
    return pq.ParquetFile(io.BytesIO(data))


def standalone(parquet: pq.ParquetFile, run_id: str, table_of=equity_table) -> bytes:
    return b"".join(run_file_chunks(parquet, run_row_groups(parquet, run_id), encoding=ENCODING_OF[table_of]))


def column_encodings(parquet: pq.ParquetFile) -> dict[str, set[str]]:
    """Column -> the Parquet encodings its chunks use, over every row group."""
    found: dict[str, set[str]] = {}
    for group in range(parquet.metadata.num_row_groups):
        for index in range(parquet.metadata.num_columns):
            chunk = parquet.metadata.row_group(group).column(index)
            found.setdefault(chunk.path_in_schema, set()).update(chunk.encodings)
    return found


@pytest.mark.parametrize("row_group_rows", [256, 65536])
@pytest.mark.parametrize(
    ("table_of", "file_of"), [(equity_table, equity_parquet), (trades_table, trades_parquet)], ids=["equity", "trades"]
)
def test_each_run_reads_back_as_its_own_file(table_of, file_of, row_group_rows):
    parquet = batch(table_of, row_group_rows)
    for run_id, result in runs():
        rebuilt = pq.ParquetFile(io.BytesIO(standalone(parquet, run_id, table_of)))
        alone = pq.ParquetFile(io.BytesIO(file_of(result)))
        # Same Arrow schema, pandas metadata included, so pandas rebuilds the same frame (index and all).
        assert rebuilt.schema_arrow.equals(alone.schema_arrow, check_metadata=True)
        assert run_row_groups(rebuilt, run_id) is None  # a plain run file: no run map in its footer
        pd.testing.assert_frame_equal(rebuilt.read().to_pandas(), alone.read().to_pandas())


def test_row_groups_follow_each_run_and_an_empty_run_keeps_one():
    parquet = batch(equity_table, 256)
    # 700 rows in groups of 256 is 3 groups per run.
    assert [run_row_groups(parquet, i) for i in ("run-a", "run-b", "run-c")] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    trades = batch(trades_table, 256)
    assert run_row_groups(trades, "run-b") == [1]
    assert trades.metadata.row_group(1).num_rows == 0


def test_a_run_not_in_the_file_and_a_plain_file_have_no_row_groups():
    assert run_row_groups(batch(equity_table, 256), "run-z") is None
    assert run_row_groups(pq.ParquetFile(io.BytesIO(equity_parquet(run_result()))), "run-a") is None


def test_batch_needs_a_run():
    with pytest.raises(ValueError):
        batch_parquet([], row_group_rows=10, encoding=EQUITY_ENCODING)


def test_rebuilt_file_streams_a_row_group_at_a_time():
    parquet = batch(equity_table, 256)
    chunks = list(run_file_chunks(parquet, run_row_groups(parquet, "run-a"), encoding=EQUITY_ENCODING))
    assert len(chunks) == 4  # three row groups, then the footer
    assert chunks[0].startswith(b"PAR1") and chunks[-1].endswith(b"PAR1")


def test_equity_dates_are_delta_encoded_and_values_byte_split_in_every_file():
    """The encodings that make a batch's equity file a third of its plain size hold for a run's own file,
    a batch file and a download rebuilt from it."""
    own = pq.ParquetFile(io.BytesIO(equity_parquet(run_result(n_bars=700))))
    batched = batch(equity_table, 256)
    rebuilt = pq.ParquetFile(io.BytesIO(standalone(batched, "run-a")))
    for parquet in (own, batched, rebuilt):
        encodings = column_encodings(parquet)
        assert "DELTA_BINARY_PACKED" in encodings["date"]
        assert "BYTE_STREAM_SPLIT" in encodings["equity"]
        assert not any("DICTIONARY" in e for e in encodings["date"] | encodings["equity"])


def test_trade_text_columns_are_dictionary_encoded():
    encodings = column_encodings(pq.ParquetFile(io.BytesIO(trades_parquet(run_result(n_trades=30)))))
    assert any("DICTIONARY" in e for e in encodings["side"])
    assert not any("DICTIONARY" in e for e in encodings["pnl"])


def test_a_batch_trades_tables_cut_from_one_table_equal_each_run_built_alone():
    results = [result for _, result in runs()] + [run_result(n_bars=700, n_trades=0)]
    for sliced, result in zip(trades_tables(results), results, strict=True):
        assert sliced.equals(trades_table(result), check_metadata=True)


@pytest.mark.parametrize("nan_in", [None, "run-b"])
def test_a_batch_equity_file_has_one_schema_equity_optional_only_if_a_run_has_a_nan(nan_in):
    batch_runs = runs()
    for run_id, result in batch_runs:
        if run_id == nan_in:
            result.equity.iloc[7] = float("nan")
    ids, results = [i for i, _ in batch_runs], [r for _, r in batch_runs]
    data = batch_parquet(
        list(zip(ids, equity_tables(results), strict=True)), row_group_rows=256, encoding=EQUITY_ENCODING
    )
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.schema_arrow.field("equity").nullable == (nan_in is not None)
    assert not parquet.schema_arrow.field("date").nullable
    for run_id, result in batch_runs:
        rebuilt = pq.read_table(io.BytesIO(standalone(parquet, run_id)))
        assert rebuilt.column("equity").null_count == (run_id == nan_in)
        pd.testing.assert_frame_equal(rebuilt.to_pandas(), equity_table(result).to_pandas())
