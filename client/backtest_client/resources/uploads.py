"""File and DataFrame uploads (market-data bars, model-output series): the body and its media type.

The platform reads CSV or Parquet; a DataFrame goes as Parquet, which keeps
its column types and is a fraction of the CSV's size.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

PARQUET = "application/vnd.apache.parquet"
CSV = "text/csv"
PARQUET_SUFFIXES = (".parquet", ".pq")
# Uploads of a few hundred thousand rows take seconds to validate and store.
IMPORT_TIMEOUT_S = 300.0
# A streamed upload reads the file a piece at a time; each read of the answer may wait this long
# (the platform answers once the whole file is checked and stored: about a minute for 1 GB).
STREAM_TIMEOUT_S = 3600.0
PIECE_BYTES = 1024 * 1024


def file_pieces(path: str | Path) -> tuple[Callable[[], Iterator[bytes]], str]:
    """A file as a function giving its pieces (read as they are sent, never whole), and its media type.

    path: the file to send; Parquet for `.parquet`/`.pq`, CSV for anything else.
    """
    file = Path(path)

    def pieces() -> Iterator[bytes]:
        with file.open("rb") as fh:
            while piece := fh.read(PIECE_BYTES):
                yield piece

    return pieces, PARQUET if file.suffix.lower() in PARQUET_SUFFIXES else CSV


def file_body(path: str | Path) -> tuple[bytes, str]:
    """A file's bytes and media type: Parquet for `.parquet`/`.pq` files, CSV for anything else.

    path: the file to send.
    """
    file = Path(path)
    return file.read_bytes(), PARQUET if file.suffix.lower() in PARQUET_SUFFIXES else CSV


def frame_body(frame: pd.DataFrame, *, index: bool) -> tuple[bytes, str]:
    """A DataFrame as Parquet bytes, and that media type.

    frame: the table to send.
    index: whether the index goes too, as columns named after its levels.
    """
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=index)
    return buffer.getvalue(), PARQUET
