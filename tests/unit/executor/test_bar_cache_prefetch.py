"""The bar cache's startup prefetch: which series it picks, how it keys them, what it never does."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import numpy as np
import pandas as pd
import pytest

from services.adapters.market_data import bars_to_parquet, object_key, read_bars
from services.executor.bars import SERIES_PREFIX, BarCache, is_series_key
from services.executor.settings import ExecutorSettings
from services.executor.warm_up import prefetch_bars, warm_up
from services.kit.settings import SettingsError, load_settings


def parquet(n: int, seed: int = 0) -> bytes:
    """A stored series of `n` daily bars."""
    close = 100 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.01, n)))
    return bars_to_parquet(
        pd.DataFrame(
            {
                "timestamp": pd.bdate_range("2010-01-01", periods=n, unit="us"),
                "open": close,
                "high": close * 1.01,
                "low": close * 0.99,
                "close": close,
                "volume": 1.0,
            }
        )
    )


class MemoryStore:
    """The ObjectStore methods the bar cache uses, over a dict, counting GETs and listings."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.gets: list[str] = []
        self.listings = 0

    def uri(self, key: str) -> str:
        return f"s3://bars/{key}"

    def key_of(self, uri: str) -> str:
        return uri.removeprefix("s3://bars/")

    def list_keys(self, prefix: str) -> list[tuple[str, int]]:
        self.listings += 1
        return sorted((key, len(data)) for key, data in self.objects.items() if key.startswith(prefix))

    def get_bytes(self, key: str) -> bytes:
        self.gets.append(key)
        return self.objects[key]


@pytest.fixture(scope="module")
def sizes() -> dict[str, bytes]:
    """Ten series of growing length, A (smallest) to J."""
    return {object_key(symbol, "1d"): parquet(200 * (k + 1), k) for k, symbol in enumerate("ABCDEFGHIJ")}


def key_entry(key: str, data: bytes) -> tuple[str, str]:
    """The cache key a job brings for this stored series: its URI and the catalog's sha256 of the bytes."""
    return f"s3://bars/{key}", hashlib.sha256(data).hexdigest()


def test_series_keys_are_the_ones_object_key_makes():
    assert object_key("AAPL", "1d").startswith(SERIES_PREFIX)
    assert is_series_key(object_key("BRK.B", "1m"))
    for key in (
        "market-data/AAPL/1d.csv",
        "market-data/AAPL/2h.parquet",
        "market-data/x/y/1d.parquet",
        "artifacts/b1/equity.parquet",
        "market-data/1d.parquet",
    ):
        assert not is_series_key(key), key


def test_prefetch_loads_the_smallest_series_that_fit_the_budget(sizes):
    store = MemoryStore({**sizes, "market-data/notes.txt": b"x", "market-data/AAPL/2h.parquet": b"y"})
    cache = BarCache(store)
    a, b, c = (object_key(s, "1d") for s in "ABC")
    budget = len(sizes[a]) + len(sizes[b]) + len(sizes[c]) - 1  # A and B fit, C does not
    loaded = cache.prefetch(budget)
    assert loaded == [key_entry(a, sizes[a]), key_entry(b, sizes[b])]
    assert store.gets == [a, b]
    frame = cache.window(*key_entry(a, sizes[a]), pd.Timestamp("2010-02-01"), pd.Timestamp("2010-03-01"))
    assert store.gets == [a, b]  # served from the cache
    pd.testing.assert_frame_equal(frame, read_bars(sizes[a], "2010-02-01", "2010-03-01"))


def test_a_cached_window_is_served_without_reading_and_a_miss_reads_nothing(sizes):
    store = MemoryStore(dict(sizes))
    cache = BarCache(store, capacity=2)
    a, b, c = (object_key(s, "1d") for s in "ABC")
    start, end = pd.Timestamp("2010-02-01"), pd.Timestamp("2010-03-01")
    assert cache.cached_window(*key_entry(a, sizes[a]), start, end) is None
    assert store.gets == []  # a miss is the caller's to read, on a worker thread
    cache.series(*key_entry(a, sizes[a]))
    cache.series(*key_entry(b, sizes[b]))
    frame = cache.cached_window(*key_entry(a, sizes[a]), start, end)
    pd.testing.assert_frame_equal(frame, cache.window(*key_entry(a, sizes[a]), start, end))
    pd.testing.assert_frame_equal(frame, read_bars(sizes[a], "2010-02-01", "2010-03-01"))
    cache.series(*key_entry(c, sizes[c]))  # evicts the least recently used: B, since A was just read
    assert cache.cached() == [key_entry(a, sizes[a]), key_entry(c, sizes[c])]
    assert store.gets == [a, b, c]


def test_prefetch_never_loads_more_series_than_the_cache_has_room_for(sizes):
    store = MemoryStore(dict(sizes))
    cache = BarCache(store, capacity=4)
    cache.series(*key_entry(object_key("J", "1d"), sizes[object_key("J", "1d")]))  # a job already cached one
    loaded = cache.prefetch(1 << 40)
    assert [uri.rsplit("/", 2)[1] for uri, _ in loaded] == ["A", "B", "C"]
    assert len(cache.cached()) == 4 and cache.cached()[0][0].endswith("/J/1d.parquet")  # nothing evicted
    assert cache.prefetch(1 << 40) == [] and store.listings == 1  # full: not even a listing


def test_a_zero_budget_does_nothing():
    store = MemoryStore({object_key("A", "1d"): parquet(10)})
    assert BarCache(store).prefetch(0) == [] and store.listings == 0 and store.gets == []


def test_an_unreadable_series_is_skipped_with_a_warning(sizes, caplog):
    a, b = object_key("A", "1d"), object_key("B", "1d")
    store = MemoryStore({a: b"not parquet", b: sizes[b]})
    with caplog.at_level(logging.WARNING, "services.executor.bars"):
        loaded = BarCache(store).prefetch(1 << 30)
    assert loaded == [key_entry(b, sizes[b])]
    assert any(r.key == a for r in caplog.records if hasattr(r, "key"))


class BrokenStore(MemoryStore):
    def list_keys(self, prefix):
        raise ConnectionError("store down")


def test_a_failed_prefetch_is_only_a_warning(caplog):
    with caplog.at_level(logging.WARNING, "services.executor.warm_up"):
        prefetch_bars(BarCache(BrokenStore({})), 1 << 20)
    assert "bar prefetch failed" in caplog.text


def test_warm_up_survives_a_store_that_fails_the_prefetch(caplog):
    class Channel:
        async def channel_ready(self) -> None:
            return None

    class Store(BrokenStore):
        bucket = "bars"
        ensured = False

        def ensure_bucket(self) -> None:
            self.ensured = True

        @property
        def client(self):
            raise ConnectionError("store down")

    store = Store({})
    with caplog.at_level(logging.WARNING, "services.executor.warm_up"):
        asyncio.run(warm_up((), channel=Channel(), store=store, bars=BarCache(store), prefetch_bytes=1 << 20))
    assert store.ensured and "bar prefetch failed" in caplog.text and "connections not opened" in caplog.text


REQUIRED = {
    "CATALOG_ADDR": "127.0.0.1:1",
    "NATS_URL": "nats://x",
    "S3_ENDPOINT": "s3:9000",
    "S3_ACCESS_KEY": "a",
    "S3_SECRET_KEY": "b",
    "S3_BUCKET": "bucket",
}


@pytest.mark.parametrize(("raw", "mb"), [(None, 64.0), ("0", 0.0), ("0.5", 0.5), ("256", 256.0)])
def test_bar_prefetch_mb_setting(raw, mb):
    env = {**REQUIRED, **({"BAR_PREFETCH_MB": raw} if raw is not None else {})}
    settings = load_settings(ExecutorSettings, env)
    assert settings.bar_prefetch_mb == mb and settings.bar_prefetch_bytes == int(mb * 1024 * 1024)


@pytest.mark.parametrize("raw", ["-1", "lots", "inf", "nan"])
def test_bar_prefetch_mb_rejects_what_is_not_a_size(raw):
    with pytest.raises(SettingsError, match="BAR_PREFETCH_MB"):
        load_settings(ExecutorSettings, {**REQUIRED, "BAR_PREFETCH_MB": raw})
