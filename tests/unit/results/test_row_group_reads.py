"""Row groups fetched ahead for the JSON renderings: the same batches as a plain read, in fewer waits."""

from __future__ import annotations

import io
import itertools
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.adapters.object_store import CHUNK_BYTES
from services.domain.errors import NotFoundError
from services.results import row_group_reads
from services.results.row_group_reads import RowGroupReads, row_group_spans
from tests.unit.adapters.memory_store import MemoryStore


def _file(rows: int, row_group_rows: int) -> bytes:
    rng = np.random.default_rng(5)
    table = pa.table(
        {
            "entry_date": pa.array(np.arange(rows) * 60_000_000_000, pa.timestamp("ns")),
            "side": pa.array(["long", "short"] * (rows // 2) + ["long"] * (rows % 2)),
            "price": rng.normal(100, 1, rows),
            "pnl": rng.normal(0, 1, rows),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=row_group_rows, compression="snappy", use_dictionary=["side"])
    return sink.getvalue()


def _read(data: bytes, columns: list[str], row_groups: list[int] | None) -> tuple[pa.Table, MemoryStore]:
    store = MemoryStore(data)
    footer = pq.ParquetFile(io.BytesIO(data)).metadata
    spans = row_group_spans(footer, columns, row_groups)
    source = RowGroupReads(store, "key", len(data), spans)
    parquet = pq.ParquetFile(source, metadata=footer, buffer_size=CHUNK_BYTES, pre_buffer=False)
    batches = parquet.iter_batches(batch_size=1000, row_groups=row_groups, columns=columns, use_threads=False)
    return pa.Table.from_batches(list(batches), parquet.schema_arrow.empty_table().select(columns).schema), store


@pytest.mark.parametrize("row_groups", [None, [1, 2], [0]])
@pytest.mark.parametrize("columns", [["entry_date", "side", "price", "pnl"], ["price", "entry_date"]])
def test_the_batches_are_those_of_a_plain_read_and_every_get_is_inside_a_span(columns, row_groups, monkeypatch):
    monkeypatch.setattr(row_group_reads, "PART_BYTES", 20_000)  # several GETs per row group
    data = _file(30_000, 10_000)
    table, store = _read(data, columns, row_groups)
    assert table.equals(pq.read_table(io.BytesIO(data), columns=columns).slice(*_rows(row_groups)))
    spans = row_group_spans(pq.ParquetFile(io.BytesIO(data)).metadata, columns, row_groups)
    assert len(store.client.gets) > len(spans)
    for offset, length in store.client.gets:
        assert any(span.start <= offset and offset + length <= span.end for span in spans)
        assert length <= 20_000


def _rows(row_groups: list[int] | None) -> tuple[int, int]:
    """(offset, length) of the rows of `row_groups` (consecutive) in the 10,000-row groups of _file."""
    return (0, 30_000) if row_groups is None else (row_groups[0] * 10_000, len(row_groups) * 10_000)


def test_spans_cover_each_row_group_and_cut_only_large_ones(monkeypatch):
    data = _file(30_000, 10_000)
    footer = pq.ParquetFile(io.BytesIO(data)).metadata
    columns = ["entry_date", "side", "price", "pnl"]
    spans = row_group_spans(footer, columns, None)
    for index, span in enumerate(spans):
        group = footer.row_group(index)
        assert span.end - span.start == sum(group.column(i).total_compressed_size for i in range(group.num_columns))
        assert span.cuts == ()  # ~0.2 MB a row group: one GET
    monkeypatch.setattr(row_group_reads, "PART_BYTES", 20_000)
    for span in row_group_spans(footer, columns, None):
        bounds = (span.start, *span.cuts, span.end)
        assert list(bounds) == sorted(set(bounds)) and max(b - a for a, b in itertools.pairwise(bounds)) <= 20_000


def test_a_read_outside_the_spans_is_a_ranged_get_of_its_own():
    data = _file(3_000, 1_000)
    store = MemoryStore(data)
    spans = row_group_spans(pq.ParquetFile(io.BytesIO(data)).metadata, ["price"], None)
    source = RowGroupReads(store, "key", len(data), spans)
    source.seek(len(data) - 8)
    assert source.read(8) == data[-8:]
    assert store.client.gets[-1] == (len(data) - 8, 8)
    source.seek(spans[0].start)
    assert source.read(16) == data[spans[0].start : spans[0].start + 16]


def test_a_vanished_object_is_not_found_when_read():
    data = _file(3_000, 1_000)
    spans = row_group_spans(pq.ParquetFile(io.BytesIO(data)).metadata, ["price"], None)
    source = RowGroupReads(MemoryStore(None), "key", len(data), spans)
    source.seek(spans[0].start)
    with pytest.raises(NotFoundError):
        source.read(16)


def test_a_row_group_is_fetched_alone_and_the_next_once_it_has_arrived():
    data = _file(3_000, 1_000)
    store = MemoryStore(data)
    spans = row_group_spans(pq.ParquetFile(io.BytesIO(data)).metadata, ["price", "pnl"], None)
    source = RowGroupReads(store, "key", len(data), spans)
    time.sleep(0.2)
    assert [offset for offset, _ in store.client.gets] == [spans[0].start]  # only the first, before any read
    source.seek(spans[0].start)
    assert source.read(spans[0].end - spans[0].start) == data[spans[0].start : spans[0].end]
    time.sleep(0.2)
    assert [offset for offset, _ in store.client.gets] == [spans[0].start, spans[1].start]
    source.seek(spans[1].start)
    assert source.read(8) == data[spans[1].start : spans[1].start + 8]
    time.sleep(0.2)
    assert len(store.client.gets) == 3 and 0 not in source._parts  # the first one dropped
