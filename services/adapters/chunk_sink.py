"""A write-only file object whose writes are taken out in pieces, for streaming what a writer (pyarrow's) writes."""

from __future__ import annotations


class ChunkSink:
    """A write-only file that hands out what was written since the last take."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.closed = False

    def write(self, data) -> int:
        """Keep a copy of `data`; its length."""
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: pieces wait for take()."""
        pass

    def close(self) -> None:
        """Mark the file closed (pyarrow checks)."""
        self.closed = True

    def take(self) -> bytes:
        """What was written since the last take, as one piece."""
        data, self._parts = b"".join(self._parts), []
        return data
