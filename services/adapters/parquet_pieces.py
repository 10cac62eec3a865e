"""One Parquet file encoded in pieces on several threads, then joined: the same bytes one writer writes.

pyarrow's Parquet writer encodes a file on one thread, a row group after
another; a million-row equity curve took ~34 ms of CPU to encode, on the
critical path of a sync execute, while the machine's other core had room.
Row groups are encoded independently of each other, so the table is cut at
a row-group boundary, each piece is written as a file of its own on its own
thread, and the files are joined: the first file's row groups, then the
next files' row groups (their bytes moved as they are), and one footer
listing them all. The footer is Thrift (compact protocol): the later
pieces' row groups are copied into it with every file offset they hold
moved by where their bytes now start, their ordinals renumbered and the
row count summed. What comes out is byte for byte the file one writer
writes for the whole table with the same options (tests hold it to that).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

import pyarrow as pa
import pyarrow.parquet as pq

MAGIC = b"PAR1"

# Thrift compact protocol type ids.
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(13)

# Field ids of parquet.thrift holding absolute file offsets, by struct.
_FILE_ROW_GROUPS, _FILE_NUM_ROWS = 4, 3
_GROUP_COLUMNS, _GROUP_FILE_OFFSET, _GROUP_ORDINAL = 1, 5, 7
_CHUNK_FILE_OFFSET, _CHUNK_META, _CHUNK_OFFSET_INDEX, _CHUNK_COLUMN_INDEX = 2, 3, 4, 6
_META_OFFSETS = (9, 10, 11, 14)  # data_page_offset, index_page_offset, dictionary_page_offset, bloom_filter_offset


def encode_in_pieces(
    rows: int,
    build: Callable[[int, int], pa.Table],
    *,
    row_group_rows: int,
    writer_options: dict,
    pool: Executor,
    pieces: int = 2,
    min_groups: int = 4,
) -> bytes:
    """A table of `rows` rows as one Parquet file of `row_group_rows`-row groups, its pieces encoded at once.

    build: (start, stop) -> the table's rows start..stop (a slice, or built on the piece's own
        thread); every piece has the same schema, whose metadata is the file's.
    writer_options: keyword arguments of `pyarrow.parquet.write_table` (compression, encodings...).
    pool: where the pieces after the first are encoded (this thread encodes the first);
        it must not be a pool whose threads wait for this call.
    pieces: how many pieces at most; a table of fewer than `min_groups` row groups is written whole.
    """
    groups = -(-rows // row_group_rows)
    count = min(pieces, groups) if groups >= min_groups else 1
    if count <= 1:
        return _encode(build(0, rows), row_group_rows, writer_options)
    per_piece = -(-groups // count) * row_group_rows
    bounds = [(start, min(start + per_piece, rows)) for start in range(0, rows, per_piece)]
    later = [
        pool.submit(lambda start=start, stop=stop: _encode(build(start, stop), row_group_rows, writer_options))
        for start, stop in bounds[1:]
    ]
    try:
        first = _encode(build(*bounds[0]), row_group_rows, writer_options)
    finally:
        encoded = [future.result() for future in later]
    return join_files([first, *encoded])


def _encode(table: pa.Table, row_group_rows: int, writer_options: dict) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=row_group_rows, **writer_options)
    return sink.getvalue().to_pybytes()


def join_files(files: Sequence[bytes]) -> bytes:
    """One Parquet file holding the row groups of `files` in order (same schema and options, no encryption).

    The footer is the first file's, its row count and row-group list extended: its other
    fields (schema, key-value metadata, column orders) are those of every piece. Only the
    later pieces' row groups are decoded, to move their offsets; the first's are copied.
    """
    head, head_footer = _split(files[0])
    parts, rows, added = [head], 0, []
    position = len(head)
    for data in files[1:]:
        body, raw_footer = _split(data)
        fields = _Reader(raw_footer).struct()
        shift = position - len(MAGIC)  # the body's bytes (after its magic) start at `position`
        rows += _field(fields, _FILE_NUM_ROWS)[2]
        added.append((shift, _field(fields, _FILE_ROW_GROUPS)[2][1]))
        parts.append(memoryview(body)[len(MAGIC) :])
        position += len(body) - len(MAGIC)
    footer = _joined_footer(head_footer, rows, added)
    return b"".join([*parts, footer, struct.pack("<i", len(footer)), MAGIC])


def _joined_footer(footer: bytes, more_rows: int, added: list[tuple[int, list]]) -> bytes:
    """`footer` (FileMetaData) with `more_rows` rows and the row groups of `added` ((shift, groups) per piece)."""
    reader, out = _Reader(footer), _Writer()
    last = 0
    while True:
        header_at = reader.at
        header = reader._byte()
        kind = header & 0x0F
        if kind == _STOP:
            break
        field_id = last + (header >> 4) if header >> 4 else reader._zigzag()
        last = field_id
        value_at = reader.at
        if field_id == _FILE_NUM_ROWS and kind == _I64:
            out.out += footer[header_at:value_at]
            out._zigzag(reader._zigzag() + more_rows)
        elif field_id == _FILE_ROW_GROUPS and kind == _LIST:
            out.out += footer[header_at:value_at]
            list_header = reader._byte()
            count = reader._varint() if list_header >> 4 == 15 else list_header >> 4
            items_at = reader.at
            for _ in range(count):
                reader.skip(_STRUCT)
            groups = []
            for shift, more in added:
                for group in more:
                    _move_group(group, shift, count + len(groups))
                    groups.append(group)
            out.list_header(_STRUCT, count + len(groups))
            out.out += footer[items_at : reader.at]
            for group in groups:
                out.struct(group)
        else:
            reader.skip(kind)
            out.out += footer[header_at : reader.at]
    out.out.append(_STOP)
    return bytes(out.out)


def _split(data: bytes) -> tuple[bytes, bytes]:
    """(the file up to its footer, the footer's Thrift bytes)."""
    if data[:4] != MAGIC or data[-4:] != MAGIC:
        raise ValueError("not a Parquet file (or an encrypted one)")
    (length,) = struct.unpack("<i", data[-8:-4])
    start = len(data) - 8 - length
    return data[:start], data[start:-8]


def _field(fields: list, field_id: int) -> list:
    """The [id, type, value] entry of a struct's field (it must be there)."""
    for entry in fields:
        if entry[0] == field_id:
            return entry
    raise ValueError(f"the Parquet footer has no field {field_id} where one is required")


def _shift(fields: list, ids: Sequence[int], shift: int) -> None:
    """Offsets among `fields` moved by `shift`; 0 is no offset (the writer leaves ColumnChunk.file_offset 0)."""
    for entry in fields:
        if entry[0] in ids and entry[1] == _I64 and entry[2] > 0:
            entry[2] += shift


def _move_group(fields: list, shift: int, ordinal_base: int) -> None:
    """A row group's offsets moved by `shift` bytes, its ordinal by `ordinal_base`."""
    _shift(fields, (_GROUP_FILE_OFFSET,), shift)
    for entry in fields:
        if entry[0] == _GROUP_ORDINAL and entry[1] == _I16:
            entry[2] += ordinal_base
    for chunk in _field(fields, _GROUP_COLUMNS)[2][1]:
        _shift(chunk, (_CHUNK_FILE_OFFSET, _CHUNK_OFFSET_INDEX, _CHUNK_COLUMN_INDEX), shift)
        for entry in chunk:
            if entry[0] == _CHUNK_META and entry[1] == _STRUCT:
                _shift(entry[2], _META_OFFSETS, shift)


class _Reader:
    """Thrift compact protocol, decoded to nested lists.

    A struct is [[field id, type, value], ...]; a list or set [element type, items];
    a map [key and value types, [(key, value), ...]].
    """

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.at = 0

    def _byte(self) -> int:
        value = self.data[self.at]
        self.at += 1
        return value

    def _varint(self) -> int:
        shift = result = 0
        while True:
            byte = self._byte()
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7

    def _zigzag(self) -> int:
        value = self._varint()
        return (value >> 1) ^ -(value & 1)

    def struct(self) -> list:
        fields, last = [], 0
        while True:
            header = self._byte()
            kind = header & 0x0F
            if kind == _STOP:
                return fields
            delta = header >> 4
            field_id = last + delta if delta else self._zigzag()
            value = None if kind in (_TRUE, _FALSE) else self.value(kind)
            fields.append([field_id, kind, value])
            last = field_id

    def skip(self, kind: int) -> None:
        """Moves past a value of `kind` without decoding it."""
        if kind in (_I16, _I32, _I64):
            self._varint()
        elif kind == _BYTE:
            self.at += 1
        elif kind == _BINARY:
            size = self._varint()
            self.at += size
        elif kind == _DOUBLE:
            self.at += 8
        elif kind == _STRUCT:
            while (header := self._byte()) & 0x0F != _STOP:
                if not header >> 4:
                    self._zigzag()
                if header & 0x0F not in (_TRUE, _FALSE):
                    self.skip(header & 0x0F)
        elif kind in (_LIST, _SET):
            header = self._byte()
            size, element = header >> 4, header & 0x0F
            if size == 15:
                size = self._varint()
            for _ in range(size):
                if element in (_TRUE, _FALSE):
                    self.at += 1
                else:
                    self.skip(element)
        elif kind == _MAP:
            size = self._varint()
            kinds = self._byte() if size else 0
            for _ in range(size):
                self.skip(kinds >> 4)
                self.skip(kinds & 0x0F)
        elif kind not in (_TRUE, _FALSE):
            raise ValueError(f"unknown Thrift compact type {kind} in a Parquet footer")

    def value(self, kind: int):
        if kind in (_I16, _I32, _I64):
            return self._zigzag()
        if kind == _BYTE:
            return self._byte()
        if kind == _BINARY:
            size = self._varint()
            self.at += size
            return bytes(self.data[self.at - size : self.at])
        if kind == _DOUBLE:
            self.at += 8
            return bytes(self.data[self.at - 8 : self.at])
        if kind == _STRUCT:
            return self.struct()
        if kind in (_LIST, _SET):
            header = self._byte()
            size, element = header >> 4, header & 0x0F
            if size == 15:
                size = self._varint()
            if element in (_TRUE, _FALSE):  # booleans in a container are one byte each
                return [element, [self._byte() for _ in range(size)]]
            return [element, [self.value(element) for _ in range(size)]]
        if kind == _MAP:
            size = self._varint()
            kinds = self._byte() if size else 0
            return [kinds, [(self.value(kinds >> 4), self.value(kinds & 0x0F)) for _ in range(size)]]
        raise ValueError(f"unknown Thrift compact type {kind} in a Parquet footer")


class _Writer:
    """Thrift compact protocol, encoded from _Reader's nested lists."""

    def __init__(self) -> None:
        self.out = bytearray()

    def _varint(self, value: int) -> None:
        while value >= 0x80:
            self.out.append((value & 0x7F) | 0x80)
            value >>= 7
        self.out.append(value)

    def _zigzag(self, value: int) -> None:
        self._varint((value << 1) ^ (value >> 63))

    def list_header(self, element: int, size: int) -> None:
        if size < 15:
            self.out.append((size << 4) | element)
        else:
            self.out.append(0xF0 | element)
            self._varint(size)

    def struct(self, fields: list) -> None:
        last = 0
        for field_id, kind, value in fields:
            delta = field_id - last
            if 0 < delta <= 15:
                self.out.append((delta << 4) | kind)
            else:
                self.out.append(kind)
                self._zigzag(field_id)
            if kind not in (_TRUE, _FALSE):
                self.value(kind, value)
            last = field_id
        self.out.append(_STOP)

    def value(self, kind: int, value) -> None:
        if kind in (_I16, _I32, _I64):
            self._zigzag(value)
        elif kind == _BYTE:
            self.out.append(value)
        elif kind == _BINARY:
            self._varint(len(value))
            self.out += value
        elif kind == _DOUBLE:
            self.out += value
        elif kind == _STRUCT:
            self.struct(value)
        elif kind in (_LIST, _SET):
            element, items = value
            self.list_header(element, len(items))
            for item in items:
                if element in (_TRUE, _FALSE):
                    self.out.append(item)
                else:
                    self.value(element, item)
        elif kind == _MAP:
            kinds, entries = value
            self._varint(len(entries))
            if entries:
                self.out.append(kinds)
            for key, item in entries:
                self.value(kinds >> 4, key)
                self.value(kinds & 0x0F, item)
        else:
            raise ValueError(f"unknown Thrift compact type {kind}")
