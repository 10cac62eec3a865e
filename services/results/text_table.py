"""Ready-made texts for the compiled row printers: a code per row, and the distinct texts.

A row printer copies `texts[codes[row]]` where a code is set (>= 0) and
prints the value itself where it is -1. JSON strings come this way (a column
of "long"/"short" is two escaped texts and a code per row), and so do the
values the compiled code leaves to the Python reference (a NaN, a date
outside years 0-9999).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

escape = json.encoder.encode_basestring  # as the gateway escapes: quotes, backslashes, controls; UTF-8 kept


@dataclass(frozen=True)
class TextTable:
    """codes: int32 per row, -1 for none; offsets, blob: text i is blob[offsets[i]:offsets[i + 1]] (UTF-8)."""

    codes: np.ndarray
    offsets: np.ndarray
    blob: np.ndarray

    @classmethod
    def of_texts(cls, codes: np.ndarray, texts: list[str]) -> TextTable:
        """A table of `texts`, indexed by `codes`."""
        encoded = [text.encode("utf-8") for text in texts]
        offsets = np.zeros(len(encoded) + 1, np.int64)
        np.cumsum([len(text) for text in encoded], out=offsets[1:])
        blob = np.frombuffer(b"".join(encoded), np.uint8) if encoded else np.zeros(0, np.uint8)
        return cls(np.ascontiguousarray(codes, dtype=np.int32), offsets, blob)

    @classmethod
    def sparse(cls, rows: int, chosen: np.ndarray, texts: list[str]) -> TextTable:
        """texts[i] for row chosen[i]; -1 for every other row."""
        codes = np.full(rows, -1, np.int32)
        codes[chosen] = np.arange(len(chosen), dtype=np.int32)
        return cls.of_texts(codes, texts)

    @classmethod
    def constant(cls, rows: int, text: str) -> TextTable:
        """The same text on every row (a column the file lacks prints its default)."""
        return cls.of_texts(np.zeros(rows, np.int32), [text])

    @property
    def longest(self) -> int:
        """Bytes of the longest text (0 when there is none)."""
        return int(np.diff(self.offsets).max()) if len(self.offsets) > 1 else 0


def json_strings(column: pa.Array) -> TextTable:
    """A string column (or dictionary of strings) as escaped JSON strings; a null prints "" (an unset proto3 string)."""
    if pa.types.is_dictionary(column.type):  # as read: a code per row already, no hashing of every string
        texts = [escape(value or "") for value in pc.cast(column.dictionary, pa.string()).to_pylist()]
        codes = pc.cast(column.indices, pa.int32()).fill_null(len(texts))  # a null row: the "" added last
        return TextTable.of_texts(codes.to_numpy(zero_copy_only=False), [*texts, '""'])
    encoded = pc.dictionary_encode(pc.cast(column, pa.string()).fill_null(""))
    texts = [escape(value) for value in encoded.dictionary.to_pylist()]
    return TextTable.of_texts(encoded.indices.to_numpy(zero_copy_only=False), texts)
