"""The executor's startup bar prefetch against real S3 (seaweedfs): listing, keys, budget, cache hits."""

from __future__ import annotations

import asyncio
import hashlib

import numpy as np
import pandas as pd
import pytest

from services.adapters.market_data import PARQUET_TYPE, bars_to_parquet, object_key, read_bars
from services.adapters.object_store import ObjectStore, S3Location
from services.executor.bars import BarCache
from services.executor.warm_up import warm_up


def daily(n: int, seed: int) -> pd.DataFrame:
    close = 100 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.01, n)))
    return pd.DataFrame(
        {
            "timestamp": pd.bdate_range("2005-01-03", periods=n, unit="us"),
            "open": close,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": 1e6,
        }
    )


class CountingStore(ObjectStore):
    """An ObjectStore that counts its GETs."""

    gets: list[str]

    def get_bytes(self, key: str) -> bytes:
        self.gets.append(key)
        return super().get_bytes(key)


@pytest.fixture
def store(s3) -> CountingStore:
    store = CountingStore(S3Location(s3.endpoint, s3.access_key, s3.secret_key, s3.bucket))
    store.gets = []
    return store


@pytest.fixture
def two_series(store) -> dict[str, tuple[str, str, bytes]]:
    """A small and a large series stored as the catalog stores them: name -> (uri, sha256, bytes)."""
    stored = {}
    for name, symbol, n in (("small", "PFSMALL", 500), ("large", "PFLARGE", 5000)):
        data = bars_to_parquet(daily(n, seed=n))
        uri = store.put_bytes(object_key(symbol, "1d"), data, content_type=PARQUET_TYPE)
        stored[name] = (uri, hashlib.sha256(data).hexdigest(), data)  # the catalog's sha256: of the stored bytes
    store.put_bytes("artifacts/b1/equity.parquet", b"not a series")  # never listed as one
    return stored


def test_list_keys_gives_every_object_under_the_prefix_with_its_size(store, two_series):
    listed = dict(store.list_keys("market-data/"))
    assert listed == {store.key_of(uri): len(data) for uri, _, data in two_series.values()}


def test_prefetch_within_budget_serves_the_smaller_series_without_a_get(store, two_series):
    small_uri, small_sha, small_data = two_series["small"]
    large_uri, large_sha, large_data = two_series["large"]
    assert len(small_data) < len(large_data)
    cache = BarCache(store)
    loaded = cache.prefetch(len(small_data) + len(large_data) - 1)  # fits the small one only
    assert loaded == [(small_uri, small_sha)]
    assert store.gets == [store.key_of(small_uri)]

    start, end = pd.Timestamp("2005-06-01"), pd.Timestamp("2006-06-30")
    window = cache.window(small_uri, small_sha, start, end)
    assert store.gets == [store.key_of(small_uri)]  # a hit: no GET
    pd.testing.assert_frame_equal(window, read_bars(small_data, start, end))

    window = cache.window(large_uri, large_sha, start, end)  # not prefetched: one GET
    assert store.gets == [store.key_of(small_uri), store.key_of(large_uri)]
    pd.testing.assert_frame_equal(window, read_bars(large_data, start, end))


def test_a_series_replaced_after_the_prefetch_is_downloaded_again(store, two_series):
    small_uri, small_sha, _ = two_series["small"]
    cache = BarCache(store)
    cache.prefetch(64 << 20)
    replacement = bars_to_parquet(daily(600, seed=1))
    store.put_bytes(store.key_of(small_uri), replacement, content_type=PARQUET_TYPE)
    fresh = cache.series(small_uri, hashlib.sha256(replacement).hexdigest())
    assert len(fresh) == 600 and store.gets[-1] == store.key_of(small_uri)


def test_executor_warm_up_prefetches_into_the_cache_it_is_given(store, two_series):
    class ReadyChannel:
        async def channel_ready(self) -> None:
            return None

    cache = BarCache(store)
    asyncio.run(warm_up((), channel=ReadyChannel(), store=store, bars=cache, prefetch_bytes=64 << 20))
    assert set(cache.cached()) == {(uri, sha) for uri, sha, _ in two_series.values()}
    gets = len(store.gets)
    for uri, sha, data in two_series.values():
        pd.testing.assert_frame_equal(cache.series(uri, sha), read_bars(data))
    assert len(store.gets) == gets


def test_warm_up_with_prefetch_disabled_loads_nothing(store, two_series):
    class ReadyChannel:
        async def channel_ready(self) -> None:
            return None

    cache = BarCache(store)
    asyncio.run(warm_up((), channel=ReadyChannel(), store=store, bars=cache, prefetch_bytes=0))
    assert cache.cached() == [] and store.gets == []
