"""RangedObject: which GETs a reader's reads cost, and that every read returns the object's bytes."""

from __future__ import annotations

import io

import pytest

from services.adapters.ranged_object import RangedObject
from tests.unit.adapters.memory_store import MemoryStore

DATA = bytes(range(256)) * 40  # 10,240 bytes


def _read(source: RangedObject, at: int, size: int) -> bytes:
    source.seek(at)
    return source.read(size)


def test_a_whole_object_is_fetched_at_the_first_read_wherever_it_starts() -> None:
    store = MemoryStore(DATA)
    source = RangedObject(store, "k", len(DATA), whole=True)
    assert _read(source, len(DATA) - 100, 100) == DATA[-100:]  # a Parquet reader's footer comes first
    assert _read(source, 0, 4000) == DATA[:4000]
    assert _read(source, 5000, 5240) == DATA[5000:]
    assert store.client.gets == [(0, len(DATA))]


def test_otherwise_a_block_is_read_from_where_each_missed_read_starts() -> None:
    store = MemoryStore(DATA)
    source = RangedObject(store, "k", len(DATA), block_bytes=4096)
    assert _read(source, len(DATA) - 100, 100) == DATA[-100:]
    assert _read(source, 0, 3000) == DATA[:3000]
    assert _read(source, 1000, 3000) == DATA[1000:4000]  # inside the block held
    assert _read(source, 3000, 5000) == DATA[3000:8000]  # past it: a block of its own, longer than block_bytes
    assert store.client.gets == [(len(DATA) - 100, 100), (0, 4096), (3000, 5000)]
    small = MemoryStore(DATA)
    assert _read(RangedObject(small, "k", len(DATA)), len(DATA) - 8, 8) == DATA[-8:]  # 1 MiB blocks: still the tail
    assert small.client.gets == [(len(DATA) - 8, 8)]


def test_a_read_through_a_buffered_reader_returns_the_bytes() -> None:
    store = MemoryStore(DATA)
    reader = io.BufferedReader(RangedObject(store, "k", len(DATA), whole=True), buffer_size=1000)
    assert reader.read() == DATA
    assert store.client.gets == [(0, len(DATA))]


def test_an_object_shorter_than_its_size_says_is_a_short_read() -> None:
    store = MemoryStore(DATA[:5000])
    source = RangedObject(store, "k", len(DATA), whole=True)
    with pytest.raises(OSError, match="short read"):
        _read(source, 6000, 100)
