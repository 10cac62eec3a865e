"""A seekable, read-only file over one S3 object, fetched with ranged GETs.

Parquet readers jump around a file (footer first, then column chunks), so a
plain stream will not do, and downloading the whole object would cost either
memory or disk. This file holds at most one block of the object at a time.
"""

from __future__ import annotations

import io

from minio.error import S3Error
from typing_extensions import override

from services.adapters.object_store import CHUNK_BYTES, ObjectStore
from services.domain.errors import NotFoundError

_MISSING = ("NoSuchKey", "NoSuchObject", "NotFound")


class RangedObject(io.RawIOBase):
    """Reads `key` of `store` on demand, one block per GET.

    store: the object store holding the object.
    key: key of the object.
    size: the object's size in bytes, as `store.size` reported it.
    block_bytes: least number of bytes fetched per GET; small reads are served from the block.
    whole: fetch the whole object at the first read, in one GET, and serve every read from it
        (the block is then the object, block_bytes unused; for objects small enough to hold).
    """

    def __init__(
        self, store: ObjectStore, key: str, size: int, *, block_bytes: int = CHUNK_BYTES, whole: bool = False
    ) -> None:
        super().__init__()
        self.store = store
        self.key = key
        self.size = size
        self.block_bytes = block_bytes
        self.whole = whole
        self.position = 0
        self.block_start = 0
        self.block = b""

    @override
    def readable(self) -> bool:
        """Always: this is a reader."""
        return True

    @override
    def seekable(self) -> bool:
        """Always: reads are ranged."""
        return True

    @override
    def tell(self) -> int:
        """The current position."""
        return self.position

    @override
    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Moves the position; nothing is fetched until a read."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    @override
    def readinto(self, buffer) -> int:
        """Fills `buffer` from the held block, fetching the next block when needed."""
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self.size - self.position)
        if wanted <= 0:
            return 0
        start = self.position - self.block_start
        if start < 0 or start + wanted > len(self.block):
            self._fetch(wanted)
            start = self.position - self.block_start
        view[:wanted] = self.block[start : start + wanted]
        self.position += wanted
        return wanted

    def _fetch(self, wanted: int) -> None:
        """Replaces the block with the bytes from the current position on (`whole`: all of them).

        A whole object is fetched from its start whatever the first read: a Parquet reader's
        first read is the footer, at the end, and a block from there would hold only the tail.
        """
        if self.whole:
            start, length = 0, self.size
        else:
            start, length = self.position, min(max(wanted, self.block_bytes), self.size - self.position)
        self.block = self._get_range(start, length)
        self.block_start = start
        if len(self.block) < self.position + wanted - start:
            raise OSError(f"short read of {self.key}: the object changed while it was read")

    def _get_range(self, offset: int, length: int) -> bytes:
        """One ranged GET of the object; NotFoundError when it is gone. Safe from any thread."""
        try:
            response = self.store.client.get_object(self.store.bucket, self.key, offset=offset, length=length)
        except S3Error as err:
            if err.code in _MISSING:
                raise NotFoundError("object", self.store.uri(self.key)) from err
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()
