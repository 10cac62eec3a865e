"""An object store of one object in memory, for readers that make ranged GETs: every (offset, length) is logged."""

from __future__ import annotations

import threading

from minio.error import S3Error


class _Response:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


class _Client:
    """get_object over bytes in memory (None: the object is gone), every (offset, length) logged."""

    def __init__(self, data: bytes | None) -> None:
        self.data, self.gets, self.lock = data, [], threading.Lock()

    def get_object(self, bucket: str, key: str, *, offset: int, length: int) -> _Response:
        if self.data is None:
            raise S3Error(None, "NoSuchKey", "gone", key, "request", "host")
        with self.lock:
            self.gets.append((offset, length))
        return _Response(self.data[offset : offset + length])


class MemoryStore:
    """What RangedObject needs of an ObjectStore: a bucket, a client and uri()."""

    bucket = "bucket"

    def __init__(self, data: bytes | None) -> None:
        self.client = _Client(data)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"
