"""Loads bars from the object store, with a small in-memory cache.

Series are immutable per sha256 (a re-import changes the hash), so a cached
frame keyed by (uri, sha256) is never stale. Sweeps and repeated runs over
the same symbol then skip the download and the Parquet decode.

At startup the executor prefetches the smallest stored series into the cache,
so the first job over one of them runs as fast as the later ones. The key is
computed from the downloaded bytes, exactly as the catalog hashes the file it
stores, so a prefetched frame is served only for the very bytes it came from.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pandas as pd

from services.adapters.market_data import is_series_key, read_bars
from services.adapters.object_store import ObjectStore

log = logging.getLogger(__name__)

# Where stored series live: every key services.adapters.market_data makes starts with it.
SERIES_PREFIX = "market-data/"


class BarCache:
    """Whole series by (uri, sha256), least recently used evicted first.

    store: where series live.
    capacity: number of series kept.
    decode: turns a stored file's bytes into what is cached (bars by default; model-output
        series files are kept as their bytes and read a symbol at a time).
    """

    def __init__(self, store: ObjectStore, *, capacity: int = 8, decode: Callable[[bytes], Any] = read_bars) -> None:
        self.store = store
        self.capacity = capacity
        self.decode = decode
        self._frames: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def series(self, uri: str, sha256: str) -> Any:
        """The whole series stored at `uri`, decoded (blocking: call from a worker thread)."""
        key = (uri, sha256)
        frame = self._hit(key)
        if frame is not None:
            return frame
        frame = self.decode(self.store.get_bytes(self.store.key_of(uri)))
        with self._lock:
            self._frames[key] = frame
            while len(self._frames) > self.capacity:
                self._frames.popitem(last=False)
        return frame

    def preload(self, key: str) -> tuple[str, str] | None:
        """Downloads the series at `key` into the cache without evicting anything (blocking).

        Returns its cache key (uri, sha256), or None when the cache was already full.
        """
        if self._full():
            return None
        data = self.store.get_bytes(key)
        entry = (self.store.uri(key), hashlib.sha256(data).hexdigest())
        frame = self.decode(data)
        with self._lock:
            if len(self._frames) >= self.capacity and entry not in self._frames:
                return None
            self._frames.setdefault(entry, frame)
        return entry

    def prefetch(self, budget_bytes: int, *, prefix: str = SERIES_PREFIX) -> list[tuple[str, str]]:
        """Loads stored series into the cache, smallest first, while their stored sizes fit `budget_bytes` (blocking).

        Never more series than the cache has free places, so nothing cached is
        evicted; a series that cannot be read is skipped with a warning.
        Returns the cache keys (uri, sha256) loaded.
        budget_bytes: total stored (Parquet) bytes to load at most; 0 loads nothing.
        prefix: where to look for series.
        """
        if budget_bytes <= 0 or self._full():
            return []
        listed = sorted((size, key) for key, size in self.store.list_keys(prefix) if is_series_key(key))
        chosen, total, room = [], 0, self._free()
        for size, key in listed:
            if total + size > budget_bytes or len(chosen) >= room:
                break
            chosen.append(key)
            total += size
        loaded = []
        for key in chosen:
            try:
                entry = self.preload(key)
            except Exception as err:  # noqa: BLE001 - an unreadable series must not stop the others
                log.warning("bar prefetch skipped a series", extra={"key": key, "error": repr(err)})
                continue
            if entry is not None:
                loaded.append(entry)
        return loaded

    def cached(self) -> list[tuple[str, str]]:
        """Keys (uri, sha256) of the series held, least recently used first."""
        with self._lock:
            return list(self._frames)

    def _free(self) -> int:
        with self._lock:
            return self.capacity - len(self._frames)

    def _full(self) -> bool:
        return self._free() <= 0

    def window(self, uri: str, sha256: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Bars of the series with start <= timestamp <= end (blocking on a miss: call from a worker thread)."""
        return _window(self.series(uri, sha256), start, end)

    def cached_window(self, uri: str, sha256: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame | None:
        """`window` when the series is cached, None when it is not: no I/O, so the event loop may call it.

        A job whose bars are cached then costs no hop to a worker thread and back.
        """
        frame = self._hit((uri, sha256))
        return None if frame is None else _window(frame, start, end)

    def _hit(self, key: tuple[str, str]) -> Any | None:
        """The cached entry for `key`, now the most recently used; None when it is not cached."""
        with self._lock:
            frame = self._frames.get(key)
            if frame is not None:
                self._frames.move_to_end(key)
            return frame


def _window(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The rows of a frame indexed by sorted timestamps with start <= timestamp <= end (a view, no copy)."""
    index = frame.index
    lo = index.searchsorted(start, side="left")
    hi = index.searchsorted(end, side="right")
    return frame.iloc[lo:hi]
