"""Writes a run's equity curve and trade list as Parquet to the object store.

Layout (the results service reads exactly this): equity has a DatetimeIndex
named `date` and one float column `equity`; trades have no index and the
columns of TRADE_COLUMNS, exit_date null for an open trade. An empty trade
list has the same column types as a full one.

The files have the Arrow schema and pandas metadata `DataFrame.to_parquet`
writes for `equity_frame` and `trades_frame`, so `pd.read_parquet` returns
those frames, but are built straight from the result's arrays: no per-trade
dicts, no DataFrame, no pandas conversion. Each kind's compression and
column encodings are `services.adapters.artifact_encoding`'s.
The two files overlap: the trades encode and upload while the equity curve
uploads (after its encode, which a sync execute waits for).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import threading
from collections.abc import Callable, Sequence
from concurrent import futures

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from services.adapters.artifact_encoding import EQUITY_ENCODING, ROW_GROUP_ROWS, TRADES_ENCODING, ParquetEncoding
from services.adapters.batch_parquet import batch_parquet
from services.adapters.object_store import PARQUET_CONTENT_TYPE, ObjectStore
from services.adapters.parquet_pieces import encode_in_pieces
from services.domain.execution import EngineResult, Trade, TradeColumns, trade_columns
from services.domain.object_uris import ArtifactRef, artifact_uri, batch_artifact_key, run_artifact_key

TRADE_COLUMNS = ["entry_date", "exit_date", "side", "entry_price", "exit_price", "size", "pnl", "return_pct", "status"]
_TRADE_DATES = ("entry_date", "exit_date")
_TRADE_TEXT = TRADES_ENCODING.dictionary_columns
_TRADE_NUMBERS = ("entry_price", "exit_price", "size", "pnl", "return_pct")
# Uploads of the equity curve, overlapping the trades' encode and PUT; one per
# concurrent job, and a job's own thread does the other PUT.
_UPLOADS = futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="artifact-put")
# The later pieces of a large equity file, encoded while the uploading thread encodes the first
# (services.adapters.parquet_pieces): one more core's worth of encoding.
_PIECES = futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="artifact-encode")


def _dates(result: EngineResult) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(result.equity.index, name="date")


def equity_frame(result: EngineResult) -> pd.DataFrame:
    """The equity curve as stored: date index, `equity` column."""
    return pd.DataFrame({"equity": result.equity.to_numpy(dtype="float64")}, index=_dates(result))


def _trade_columns(trades: Sequence[Trade], bars: pd.DatetimeIndex) -> dict[str, object]:
    """Column name -> values of a trade list over `bars`: DatetimeIndex, float64 array or array of str."""
    return _columns_of(trade_columns(trades, bars))


def _columns_of(table: TradeColumns) -> dict[str, object]:
    columns: dict[str, object] = {name: getattr(table, name) for name in (*_TRADE_DATES, *_TRADE_NUMBERS)}
    columns["side"], columns["status"] = table.side(), table.status()
    return columns


def trades_frame(result: EngineResult) -> pd.DataFrame:
    """The trade list as stored: one row per trade, no index."""
    columns = _trade_columns(result.trades, _dates(result))
    for name in _TRADE_TEXT:
        columns[name] = pd.Series(columns[name], dtype=str)
    for name in _TRADE_DATES:
        columns[name] = pd.Series(columns[name])
    return pd.DataFrame(columns, columns=TRADE_COLUMNS)


@functools.lru_cache(maxsize=8)
def _schemas(dates: np.dtype | pd.DatetimeTZDtype) -> tuple[pa.Schema, pa.Schema]:
    """(equity, trades) Arrow schemas with the pandas metadata `to_parquet` would write, for bar dates of `dates`.

    Taken from one-row frames built like the real ones, so they follow
    whatever pandas and pyarrow make of those dtypes.
    """
    stamp = pd.DatetimeIndex(["2000-01-03"], dtype=dates)
    template = EngineResult(
        equity=pd.Series([1.0], index=stamp),
        position=pd.Series([0.0], index=stamp),
        trades=[Trade(stamp[0], stamp[0], "long", 1.0, 1.0, 1.0, 0.0, 0.0, "closed")],
    )
    equity = pa.Schema.from_pandas(equity_frame(template), preserve_index=True)
    trades = pa.Schema.from_pandas(trades_frame(template), preserve_index=False)
    return equity, trades


def _parquet(table: pa.Table, encoding: ParquetEncoding) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=ROW_GROUP_ROWS, **encoding.writer_options())
    return sink.getvalue().to_pybytes()


def equity_table(result: EngineResult) -> pa.Table:
    """The equity artifact as an Arrow table: `equity`, then the `date` index column."""
    dates, values = _dates(result), result.equity.to_numpy(dtype="float64")
    return _equity_rows(dates, values, optional=_nulls_in(dates, values))


def equity_tables(results: list[EngineResult]) -> list[pa.Table]:
    """`equity_table` of each result of a batch, all with one schema: a column is optional if any run has a null."""
    runs = [(_dates(result), result.equity.to_numpy(dtype="float64")) for result in results]
    optional = frozenset().union(*(_nulls_in(dates, values) for dates, values in runs))
    return [_equity_rows(dates, values, optional=optional) for dates, values in runs]


def _nulls_in(dates: pd.DatetimeIndex, values: np.ndarray) -> frozenset[str]:
    """The equity file's columns that would hold a null for this curve: `equity` for a NaN, `date` for a NaT."""
    return frozenset(name for name, nulls in (("equity", _has_nan(values)), ("date", dates.hasnans)) if nulls)


def _has_nan(values: np.ndarray) -> bool:
    return bool(np.isnan(values).any())


@functools.lru_cache(maxsize=8)
def _equity_schema(dates: np.dtype | pd.DatetimeTZDtype, optional: frozenset[str]) -> pa.Schema:
    """The equity file's schema: its columns required (never null) but those in `optional`.

    A required column is stored without definition levels, which the writer
    otherwise computes and encodes for every value: a million-row curve
    encodes in about 8 ms less CPU with both columns required. Readers see the
    same values either way (pandas, the results service's printers); in Arrow
    the fields are `not null`. pandas writes both optional, as `_schemas` has them.
    """
    schema, _ = _schemas(dates)
    for name in ("equity", "date"):
        if name not in optional:
            index = schema.get_field_index(name)
            schema = schema.set(index, schema.field(index).with_nullable(False))
    return schema


def _equity_rows(dates: pd.DatetimeIndex, values: np.ndarray, *, optional: frozenset[str]) -> pa.Table:
    """The equity table of these dates and values (all of a curve, or a piece of one).

    optional: `_nulls_in` of the whole file (all of the curve, all of a batch's curves), not
        only of this piece: every piece of a file has the file's schema.
    """
    schema = _equity_schema(dates.dtype, optional)
    # from_pandas: NaN is stored as null, as pandas stores it (and JSON renders it). It costs a
    # pass and a copy of a million values, so it is asked for only when there is a NaN. Per
    # piece of a curve the same: a piece without NaN has none to turn into null.
    equity = pa.array(values, type=pa.float64(), from_pandas="equity" in optional and _has_nan(values))
    date = _date_array(dates, schema.field("date").type, nat="date" in optional)
    return pa.Table.from_arrays([equity, date], schema=schema)


def _date_array(dates: pd.DatetimeIndex, arrow_type: pa.DataType, *, nat: bool) -> pa.Array:
    """The dates as Arrow timestamps, NaT as null; from the numpy values when they are tz-naive.

    nat: whether the dates may hold a NaT (False only when they hold none: it skips the search).

    pyarrow converts a DatetimeIndex itself six times slower than its numpy
    values (16 against 2.6 ms for a million minute bars), to the same array.
    """
    if isinstance(dates.dtype, np.dtype):
        return pa.array(dates.to_numpy(), type=arrow_type, from_pandas=nat)
    return pa.array(dates, type=arrow_type)


def _trades_table(trades: Sequence[Trade] | TradeColumns, bars: pd.DatetimeIndex) -> pa.Table:
    _, schema = _schemas(bars.dtype)
    columns = _columns_of(trades) if isinstance(trades, TradeColumns) else _trade_columns(trades, bars)
    arrays = [pa.array(columns[name], type=schema.field(name).type, from_pandas=True) for name in TRADE_COLUMNS]
    return pa.Table.from_arrays(arrays, schema=schema)


def trades_table(result: EngineResult) -> pa.Table:
    """The trades artifact as an Arrow table, columns as TRADE_COLUMNS."""
    return _trades_table(result.trades, _dates(result))


def trades_tables(results: list[EngineResult]) -> list[pa.Table]:
    """`trades_table` of each result of a batch (runs over the same bars), built as one table and sliced.

    Converting a 25-run batch run by run cost 3.8 ms, nearly all of it the
    fixed cost of some twenty pandas and pyarrow calls per run, not rows.
    """
    bars = _dates(results[0])
    parts = [trade_columns(result.trades, bars) for result in results]
    table = _trades_table(_concatenated(parts), bars)
    counts = [len(result.trades) for result in results]
    starts = itertools.accumulate(counts, initial=0)
    # `starts` has one more item than `counts` (the total): zip stops at the last run on purpose.
    return [table.slice(start, count) for start, count in zip(starts, counts, strict=False)]


def _concatenated(parts: list[TradeColumns]) -> TradeColumns:
    """One TradeColumns with the rows of `parts`, in order."""
    if len(parts) == 1:
        return parts[0]
    columns = {}
    for f in dataclasses.fields(TradeColumns):
        values = [getattr(part, f.name) for part in parts]
        columns[f.name] = values[0].append(values[1:]) if f.name in _TRADE_DATES else np.concatenate(values)
    return TradeColumns(**columns)


def equity_parquet(result: EngineResult) -> bytes:
    """The equity artifact's Parquet file; a long curve is encoded in two pieces at once, to the same bytes."""
    dates, values = _dates(result), result.equity.to_numpy(dtype="float64")
    optional = _nulls_in(dates, values)
    return encode_in_pieces(
        len(values),
        lambda start, stop: _equity_rows(dates[start:stop], values[start:stop], optional=optional),
        row_group_rows=ROW_GROUP_ROWS,
        writer_options=EQUITY_ENCODING.writer_options(),
        pool=_PIECES,
    )


def trades_parquet(result: EngineResult) -> bytes:
    """The trades artifact's Parquet file."""
    return _parquet(trades_table(result), TRADES_ENCODING)


def _overlapped(
    encode_equity: Callable[[], bytes],
    put_equity: Callable[[bytes], str],
    encode_trades: Callable[[], bytes],
    put_trades: Callable[[bytes], str],
    encoded_equity: Callable[[], None] | None = None,
) -> tuple[str, str]:
    """(equity URI, trades URI): the equity file encodes and uploads on the pool while this thread does the trades.

    The equity file is the larger and the one a sync execute waits for, so the
    trades file is encoded only once the equity file is: on two cores that
    encode had to share them with the metrics (computed alongside by the
    caller), the trades encode and S3 taking the trades PUT, and took 49 ms
    for 30 ms of CPU on a million bars. The trades file then encodes and
    uploads while S3 takes the equity file. `encoded_equity` is called once the
    equity file is encoded (or failed to encode), before the trades file is.
    """
    encoded = threading.Event()

    def equity() -> str:
        try:
            data = encode_equity()
        finally:
            encoded.set()
        return put_equity(data)

    upload = _UPLOADS.submit(equity)
    try:
        encoded.wait()
        if encoded_equity is not None:
            encoded_equity()
        trades_uri = put_trades(encode_trades())
    finally:
        futures.wait([upload])  # never return, nor raise, while the equity upload is still running
    return upload.result(), trades_uri


def write_artifacts(
    store: ObjectStore,
    backtest_id: str,
    job_id: str,
    attempt: int,
    result: EngineResult,
    encoded_equity: Callable[[], None] | None = None,
) -> tuple[str, str]:
    """Stores both artifacts of a run and returns (equity_curve_uri, trades_uri).

    store: the artifact store.
    backtest_id: run the artifacts belong to; keys live under artifacts/<id>/.
    job_id, attempt: the job attempt writing them: files of its own (`run_artifact_key`).
    result: the engine's output.
    encoded_equity: called once the equity file is encoded, while it uploads (see `_overlapped`).
    """

    def put(name: str) -> Callable[[bytes], str]:
        key = run_artifact_key(backtest_id, job_id, attempt, name)
        return lambda data: store.put_bytes(key, data, content_type=PARQUET_CONTENT_TYPE)

    return _overlapped(
        lambda: equity_parquet(result), put("equity"), lambda: trades_parquet(result), put("trades"), encoded_equity
    )


def write_batch_artifacts(
    store: ObjectStore,
    job_id: str,
    attempt: int,
    runs: list[tuple[str, EngineResult]],
    encoded_equity: Callable[[], None] | None = None,
) -> list[tuple[str, str]]:
    """Stores the artifacts of many runs as two batch files; (equity_curve_uri, trades_uri) per run, in order.

    store: the artifact store.
    job_id, attempt: the job attempt writing them; each attempt has files of its own
        (`batch_artifact_key`), so a file is never overwritten under a run that points into it.
    runs: (backtest_id, engine result) pairs, all over the same bars (a broadcast batch).
    encoded_equity: called once the equity file is encoded, while it uploads (see `_overlapped`).

    Each run's URI names its part of the file (`services.adapters.batch_parquet`).
    """
    ids, results = [backtest_id for backtest_id, _ in runs], [result for _, result in runs]

    def encode(tables_of: Callable[[list[EngineResult]], list[pa.Table]], encoding: ParquetEncoding) -> bytes:
        tables = list(zip(ids, tables_of(results), strict=True))
        return batch_parquet(tables, row_group_rows=ROW_GROUP_ROWS, encoding=encoding)

    def put(name: str) -> Callable[[bytes], str]:
        key = batch_artifact_key(job_id, attempt, name)
        return lambda data: store.put_bytes(key, data, content_type=PARQUET_CONTENT_TYPE)

    equity_file, trades_file = _overlapped(
        lambda: encode(equity_tables, EQUITY_ENCODING),
        put("equity"),
        lambda: encode(trades_tables, TRADES_ENCODING),
        put("trades"),
        encoded_equity,
    )
    equity_key, trades_key = store.key_of(equity_file), store.key_of(trades_file)
    return [
        (
            artifact_uri(store.bucket, ArtifactRef(equity_key, backtest_id)),
            artifact_uri(store.bucket, ArtifactRef(trades_key, backtest_id)),
        )
        for backtest_id in ids
    ]


def warm_uploads() -> None:
    """Starts the upload thread, so the first job does not pay for it."""
    _UPLOADS.submit(lambda: None).result()
