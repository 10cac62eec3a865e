"""A Parquet file encoded in pieces on several threads is byte for byte the file one writer writes."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.adapters.artifact_encoding import EQUITY_ENCODING, TRADES_ENCODING
from services.adapters.parquet_pieces import _Reader, _split, _Writer, encode_in_pieces, join_files
from services.domain.execution import EngineResult
from services.executor import artifacts

GROUP = 1000  # small row groups, so that small tables have many


@pytest.fixture(scope="module")
def pool():
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


def whole(table: pa.Table, options: dict, group: int = GROUP) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=group, **options)
    return sink.getvalue()


def curve(rows: int, *, tz: str | None = None, nans: tuple[int, ...] = ()) -> pa.Table:
    rng = np.random.default_rng(rows)
    values = 100_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, rows)))
    values[list(nans)] = np.nan
    dates = pd.date_range("2020-01-01 14:30", periods=rows, freq="min", tz=tz, unit="us", name="date")
    return pa.Table.from_pandas(pd.DataFrame({"equity": values}, index=dates))


@pytest.mark.parametrize("rows", [0, 1, GROUP - 1, GROUP, GROUP + 1, 4 * GROUP - 1, 4 * GROUP, 4 * GROUP + 1, 10_007])
@pytest.mark.parametrize("pieces", [2, 3, 5])
def test_pieces_give_the_bytes_of_one_writer(pool, rows, pieces):
    table = curve(rows, nans=(0, rows // 2) if rows > 2 else ())
    options = EQUITY_ENCODING.writer_options()
    got = encode_in_pieces(
        rows,
        lambda start, stop: table.slice(start, stop - start),
        row_group_rows=GROUP,
        writer_options=options,
        pool=pool,
        pieces=pieces,
    )
    assert got == whole(table, options)
    assert pq.read_table(io.BytesIO(got)).equals(table)


@pytest.mark.parametrize("options", [EQUITY_ENCODING.writer_options(), TRADES_ENCODING.writer_options(), {}])
def test_joining_keeps_every_writer_option(options):
    """Dictionary pages (their offsets too), zstd, statistics: whatever the writer puts in the footer."""
    table = curve(7 * GROUP + 3, tz="America/New_York")
    table = table.append_column("side", pa.array(np.where(np.arange(table.num_rows) % 3, "long", "short")))
    if options.get("use_dictionary") not in (None, True):
        options = {**options, "use_dictionary": ["side"]}
    files = [whole(table.slice(start, 3 * GROUP), options) for start in range(0, table.num_rows, 3 * GROUP)]
    assert join_files(files) == whole(table, options)


def test_footer_reencodes_to_its_own_bytes():
    _, footer = _split(whole(curve(5 * GROUP), {"write_statistics": True}))
    writer = _Writer()
    writer.struct(_Reader(footer).struct())
    assert bytes(writer.out) == footer


def test_not_parquet_is_refused():
    with pytest.raises(ValueError, match="not a Parquet file"):
        join_files([b"PAR1 nothing here", b"not one either"])


@pytest.mark.parametrize("tz", [None, "UTC"])
def test_equity_file_of_a_million_bars_is_the_one_writer_file(tz):
    """The executor's equity file (pieces built on their threads) equals the whole table written at once."""
    rows = 1_000_350
    rng = np.random.default_rng(11)
    dates = pd.date_range("2016-01-04 14:30", periods=rows, freq="min", tz=tz, unit="us")
    values = 100_000 * np.exp(np.cumsum(rng.normal(0, 1e-4, rows)))
    values[rng.choice(rows, 5, replace=False)] = np.nan
    equity = pd.Series(values, index=dates)
    result = EngineResult(equity=equity, position=pd.Series(0.0, index=dates), trades=[])
    one_writer = whole(artifacts.equity_table(result), EQUITY_ENCODING.writer_options(), artifacts.ROW_GROUP_ROWS)
    assert artifacts.equity_parquet(result) == one_writer
