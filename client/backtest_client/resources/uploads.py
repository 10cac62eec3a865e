"""File and DataFrame uploads (market-data bars, model-output series): the body and its media type.

The platform reads CSV or Parquet; a DataFrame goes as Parquet, which keeps
its column types and is a fraction of the CSV's size.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

PARQUET = "application/vnd.apache.parquet"
CSV = "text/csv"
PARQUET_SUFFIXES = (".parquet", ".pq")
# Uploads of a few hundred thousand rows take seconds to validate and store.
IMPORT_TIMEOUT_S = 300.0


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
