"""A trade list's Parquet row groups fetched ahead of the reader, each in parallel ranged GETs.

RangedObject holds one 1 MiB block from wherever a read starts. Arrow reads a
row group column after column, so for a trade list (nine columns of ~0.5 MB a
row group of 65,536 trades) the first batch waited for six 1 MiB GETs one
after another, on the decoding thread's path, before the first byte. Here the
byte ranges the reader will ask for are known from the footer (the column
chunks of the row groups and columns to be read); a row group's chunks are
fetched at once, in GETs of about a column chunk each, by a small pool of
threads, and the next row group's as soon as this one's have all arrived
(together they would share S3's bandwidth and delay the first batch). A row
group's bytes are dropped once the reader moves on to a later one, so at most
two row groups are held (a 117,000-trade list's two are ~3.4 and ~2.7 MB).
Reads outside those ranges (the footer, anything unexpected) are RangedObject's.
"""

from __future__ import annotations

import bisect
import concurrent.futures
import itertools
from collections.abc import Sequence
from typing import NamedTuple

import pyarrow.parquet as pq
from typing_extensions import override

from services.adapters.object_store import ObjectStore
from services.adapters.ranged_object import RangedObject

PART_BYTES = 1024 * 1024  # column chunks are joined into GETs of up to this many bytes, or split into them
AHEAD = 1  # row groups fetched beyond the one being read, once its own GETs are done
# Threads that run the GETs of every stream's row groups; a GET is a few milliseconds.
_FETCHERS = concurrent.futures.ThreadPoolExecutor(max_workers=6, thread_name_prefix="row-group-get")


class Span(NamedTuple):
    """The bytes [start, end) of one row group's column chunks to be read, and where its GETs split them."""

    start: int
    end: int
    cuts: tuple[int, ...]  # starts of the GETs after the first, ascending, inside (start, end)


def row_group_spans(metadata: pq.FileMetaData, columns: Sequence[str], row_groups: Sequence[int] | None) -> list[Span]:
    """The spans of `columns` in `row_groups` (None: all), in the order Arrow reads them.

    A row group's chunks of the chosen columns lie one after another (Arrow reads the gaps,
    columns not chosen, as part of the span: a trade list's and a curve's readers choose every
    column but the pandas index, which they lack); the GETs split at column chunk boundaries,
    joining small chunks up to PART_BYTES and splitting large ones.
    """
    chosen = set(columns)
    spans = []
    for index in range(metadata.num_row_groups) if row_groups is None else row_groups:
        group = metadata.row_group(index)
        chunks = []
        for position in range(group.num_columns):
            column = group.column(position)
            if column.path_in_schema not in chosen:
                continue
            start = column.data_page_offset
            if column.has_dictionary_page and 0 < column.dictionary_page_offset < start:
                start = column.dictionary_page_offset
            chunks.append((start, start + column.total_compressed_size))
        if chunks:
            spans.append(_span(sorted(chunks)))
    return spans


def _span(chunks: list[tuple[int, int]]) -> Span:
    start, end = chunks[0][0], max(stop for _, stop in chunks)
    cuts, part_start = [], start
    for chunk_start, chunk_end in chunks:
        if chunk_start > part_start and chunk_end - part_start > PART_BYTES:
            cuts.append(chunk_start)  # this chunk would make the part too long: it starts the next one
            part_start = chunk_start
        while chunk_end - part_start > PART_BYTES:
            part_start += PART_BYTES
            cuts.append(part_start)
    return Span(start, end, tuple(cut for cut in cuts if start < cut < end))


class RowGroupReads(RangedObject):
    """A RangedObject that serves the reads inside `spans` from row groups fetched ahead (see the module).

    spans: row_group_spans of what will be read, in reading order.
    """

    def __init__(self, store: ObjectStore, key: str, size: int, spans: list[Span]) -> None:
        super().__init__(store, key, size)
        self._spans = [span for span in spans if span.end <= size]
        self._starts = [span.start for span in self._spans]
        self._parts: dict[int, list[tuple[int, concurrent.futures.Future]]] = {}
        self._current = -1
        self._advance(0)

    @override
    def readinto(self, buffer) -> int:
        """Fills `buffer` from the fetched row groups when the read falls in one, else as RangedObject does."""
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self.size - self.position)
        index = bisect.bisect_right(self._starts, self.position) - 1
        if wanted <= 0 or index < self._current or self.position + wanted > self._spans[index].end:
            return super().readinto(buffer)  # index -1 (before the first span) lands here too
        self._advance(index)
        filled = 0
        for start, part in self._parts[index]:
            data = memoryview(part.result())  # slices of a view: no copy of the part on the way into `buffer`
            offset = self.position + filled - start
            if 0 <= offset < len(data):
                taken = min(len(data) - offset, wanted - filled)
                view[filled : filled + taken] = data[offset : offset + taken]
                filled += taken
                if filled == wanted:
                    break
        self.position += wanted
        if all(part.done() for _, part in self._parts[index]):
            self._fetch_groups(range(index + 1, index + 1 + AHEAD))  # not before: they would share S3 with this one
        return wanted

    @override
    def close(self) -> None:
        """Drops every fetched row group; GETs under way finish on their own."""
        self._parts.clear()
        super().close()

    def _advance(self, index: int) -> None:
        """Makes `index` the row group being read: earlier ones are dropped, this one fetched if it is not yet."""
        if index == self._current:
            return
        self._current = index
        for older in [held for held in self._parts if held < index]:
            del self._parts[older]
        self._fetch_groups([index])

    def _fetch_groups(self, indexes) -> None:
        """Starts the GETs of the row groups `indexes` not fetched yet."""
        for index in indexes:
            if index < len(self._spans) and index not in self._parts:
                span = self._spans[index]
                bounds = (span.start, *span.cuts, span.end)
                self._parts[index] = [
                    (start, _FETCHERS.submit(self._get, start, end)) for start, end in itertools.pairwise(bounds)
                ]

    def _get(self, start: int, end: int) -> bytes:
        data = self._get_range(start, end - start)
        if len(data) != end - start:
            raise OSError(f"short read of {self.key}: the object changed while it was read")
        return data
