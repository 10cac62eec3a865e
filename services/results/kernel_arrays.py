"""Arrays around the compiled JSON printers: buffers a stream keeps, and inputs in one numba signature.

- `KeptBuffer`: a buffer held for a stream's whole life and reused batch after
  batch (the printed text, the trade list's stacked doubles, a date column's
  seconds). A fresh batch-sized array per batch (256 KiB and more) would be
  mapped and faulted in afresh at the results service's mmap threshold every time.
- `read_only`: numba compiles a kernel once per argument signature, and
  "readonly array" is a type of its own; handing every input as read-only
  (Arrow's zero-copy views are) keeps one signature without copying anything.
"""

from __future__ import annotations

import numpy as np


class KeptBuffer:
    """Bytes kept for one stream and one use, grown when a batch needs more."""

    def __init__(self) -> None:
        self._bytes = np.empty(0, np.uint8)

    def take(self, size: int) -> np.ndarray:
        """The first `size` bytes of the buffer (8-aligned, as numpy allocates), grown first if shorter."""
        if len(self._bytes) < size:
            self._bytes = np.empty(size, np.uint8)
        return self._bytes[:size]


def read_only(array: np.ndarray) -> np.ndarray:
    """`array` as a read-only view (itself when it already is one): no copy."""
    if not array.flags.writeable:
        return array
    view = array.view()
    view.flags.writeable = False
    return view
