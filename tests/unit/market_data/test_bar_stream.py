"""services.adapters.bar_stream without servers: the streamed path agrees with the whole-file one."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from services.adapters import bar_stream
from services.adapters.market_data import bars_to_parquet, parse_bars, read_bars
from services.domain.errors import ConflictError, ValidationError


def csv_bytes(rows: int, *, start: str = "2020-01-02 09:30", seed: int = 3) -> bytes:
    """A valid CSV of minute bars."""
    rng = np.random.default_rng(seed)
    close = np.round(50 + np.cumsum(rng.normal(0, 0.05, rows)), 4)
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=rows, freq="min").strftime("%Y-%m-%dT%H:%M:%S"),
            "open": close,
            "high": close + 0.5,
            "low": close - 0.5,
            "close": close,
            "volume": rng.integers(0, 100, rows),
        }
    )
    return frame.to_csv(index=False).encode()


def cut(data: bytes, size: int) -> list[bytes]:
    """`data` in pieces of `size` bytes."""
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Blocks of 64 KiB, so a few thousand rows cross many block boundaries."""
    monkeypatch.setattr(bar_stream, "_BLOCK_BYTES", 64 * 1024)


@pytest.mark.parametrize("piece", [7, 1000, 1 << 20])
def test_streamed_conversion_writes_the_bytes_of_the_whole_file_path(tmp_path: Path, piece: int) -> None:
    data = csv_bytes(70_000)  # more than one 65,536-row group
    converted = bar_stream.convert_upload(iter(cut(data, piece)), "text/csv", str(tmp_path / "out.parquet"))
    expected = bars_to_parquet(parse_bars(data, "text/csv"))
    written = (tmp_path / "out.parquet").read_bytes()
    assert written == expected
    assert converted.sha256 == hashlib.sha256(expected).hexdigest() and converted.size == len(expected)
    last = pd.date_range("2020-01-02 09:30", periods=70_000, freq="min")[-1]
    assert (converted.rows, converted.start, converted.end) == (70_000, pd.Timestamp("2020-01-02 09:30"), last)


def test_padded_values_convert_as_the_whole_file_path_reads_them(tmp_path: Path) -> None:
    # Whitespace around values (one block padded, the others not): read_csv's skipinitialspace
    # in the whole-file path, a trim before the cast in the streamed one.
    lines = csv_bytes(3_000).split(b"\n")
    for row in range(1, 1_500):
        lines[row] = b",".join(b" " + value for value in lines[row].split(b","))
    data = b"\n".join(lines)
    converted = bar_stream.convert_upload(iter(cut(data, 4096)), "text/csv", str(tmp_path / "out.parquet"))
    assert (tmp_path / "out.parquet").read_bytes() == bars_to_parquet(parse_bars(data, "text/csv"))
    assert converted.rows == 3_000


@pytest.mark.parametrize(
    ("row", "bad", "message"),
    [
        (5, lambda f: f.replace(b"T", b"X", 1), "is not an ISO-8601 date/time"),
        (30_000, lambda f: f[:-2] + b"-1", "volume -1 is negative"),
        (29_999, None, "repeats the previous row's"),
    ],
)
def test_the_first_bad_row_is_named_across_blocks_and_nothing_is_left(tmp_path: Path, row, bad, message) -> None:
    lines = csv_bytes(40_000).split(b"\n")
    if bad is None:  # data row `row + 1` repeats row `row`'s timestamp
        lines[row + 1] = lines[row]
        row += 1
    else:
        lines[row] = bad(lines[row])
    out = tmp_path / "out.parquet"
    with pytest.raises(ValidationError) as caught:
        bar_stream.convert_upload(iter(cut(b"\n".join(lines), 5000)), "text/csv", str(out))
    description = caught.value.violations[0].description
    assert description.startswith(f"row {row}: ") and message in description, description
    assert list(tmp_path.iterdir()) == []


def test_parquet_uploads_and_missing_headers(tmp_path: Path) -> None:
    data = csv_bytes(1000)
    parquet = parse_bars(data, "text/csv").to_parquet(index=False)
    converted = bar_stream.convert_upload(iter(cut(parquet, 333)), "", str(tmp_path / "a.parquet"))
    assert converted.sha256 == hashlib.sha256(bars_to_parquet(parse_bars(data, "text/csv"))).hexdigest()
    for body, expected in [
        (b"", "is empty"),
        (b"x" * (3 << 20), "has no line break in its first 1024 KiB"),
        (b"timestamp,open\n2020-01-01,1\n", "lacks column(s) high, low, close, volume"),
    ]:
        with pytest.raises(ValidationError) as caught:
            bar_stream.convert_upload(iter([body]), "text/csv", str(tmp_path / "b.parquet"))
        assert expected in caught.value.violations[0].description


def test_append_adds_after_the_last_bar_and_refuses_a_differing_overlap(tmp_path: Path) -> None:
    whole = csv_bytes(3000)
    header, *rows = whole.rstrip(b"\n").split(b"\n")
    stored = tmp_path / "stored.parquet"
    stored.write_bytes(bars_to_parquet(parse_bars(b"\n".join([header, *rows[:2000]]) + b"\n", "text/csv")))
    more = b"\n".join([header, *rows[1500:]]) + b"\n"
    appended = bar_stream.append_upload(str(stored), iter(cut(more, 4096)), "text/csv", str(tmp_path / "a.parquet"))
    assert appended is not None and appended.rows == 3000
    assert (tmp_path / "a.parquet").read_bytes() == bars_to_parquet(parse_bars(whole, "text/csv"))
    nothing_new = b"\n".join([header, *rows[100:200]]) + b"\n"
    assert bar_stream.append_upload(str(stored), iter([nothing_new]), "text/csv", str(tmp_path / "n.parquet")) is None
    changed = rows[1700].rsplit(b",", 1)[0] + b",1000"
    differing = b"\n".join([header, *rows[1500:1700], changed, *rows[1701:]]) + b"\n"
    with pytest.raises(ConflictError, match=r"^row 201: volume 1000 differs from the stored bar's"):
        bar_stream.append_upload(str(stored), iter([differing]), "text/csv", str(tmp_path / "c.parquet"))
    before = b"\n".join([header.replace(b"timestamp", b"date"), b"2019-12-31T09:30:00,1,2,1,1,1", *rows[:5]])
    with pytest.raises(ConflictError, match=r"^row 1: timestamp 2019-12-31 09:30:00 is not the stored bar there"):
        bar_stream.append_upload(str(stored), iter([before + b"\n"]), "text/csv", str(tmp_path / "d.parquet"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet", "stored.parquet"]
    assert len(read_bars(str(stored))) == 2000


def test_a_stream_that_breaks_off_raises_its_error_and_leaves_nothing(tmp_path: Path) -> None:
    # The pieces are received by a thread of their own: its failure reaches the converting thread.
    def pieces():
        yield from cut(csv_bytes(20_000), 4096)[:50]
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError, match="went away"):
        bar_stream.convert_upload(pieces(), "text/csv", str(tmp_path / "out.parquet"))
    assert list(tmp_path.iterdir()) == []


def test_a_block_that_does_not_parse_typed_is_read_as_text_with_the_same_rules(tmp_path: Path) -> None:
    # One missing value ("NaN" reads as missing) in a later block: the typed parse of that block
    # fails over to the text path, which names the row.
    lines = csv_bytes(10_000).split(b"\n")
    fields = lines[7_001].split(b",")
    fields[2] = b"NaN"
    lines[7_001] = b",".join(fields)
    with pytest.raises(ValidationError) as caught:
        bar_stream.convert_upload(iter(cut(b"\n".join(lines), 1000)), "text/csv", str(tmp_path / "out.parquet"))
    assert caught.value.violations[0].description.startswith("row 7001: high is missing"), caught.value.violations


@pytest.mark.parametrize("append", [False, True])
def test_a_refused_upload_stops_its_threads_before_the_error_surfaces(tmp_path: Path, append: bool) -> None:
    """Closed at once, not by the garbage collector: finalized by it, the parser's pool was joined inside
    threading's own shutdown lock once, and a test run hung there."""
    import gc
    import threading

    lines = csv_bytes(200_000).split(b"\n")
    stored = tmp_path / "stored.parquet"
    stored.write_bytes(bars_to_parquet(parse_bars(b"\n".join(lines[:11]), "text/csv")))  # the upload's first 10
    lines[150_000] = lines[150_000].replace(b",", b",x", 1)  # a bad value in a later block
    gc.disable()
    try:
        with pytest.raises(ValidationError) as caught:  # held, as a test that reads the message holds it
            if append:
                bar_stream.append_upload(
                    str(stored), iter(cut(b"\n".join(lines), 1 << 20)), "text/csv", str(tmp_path / "o.parquet")
                )
            else:
                bar_stream.convert_upload(iter(cut(b"\n".join(lines), 1 << 20)), "text/csv", str(tmp_path / "o"))
        assert "x" in str(caught.value)
        assert not [t.name for t in threading.enumerate() if t.name.startswith("csv-parse")]
    finally:
        gc.enable()
