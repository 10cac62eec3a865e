"""Large buffers go back to the operating system when freed, so a long stream's memory stays flat.

Streams allocate and free buffers of a few megabytes all day (Parquet pages,
JSON text chunks, HttpBody messages, uploaded CSV blocks), from many worker
threads. glibc maps such buffers on their own and unmaps them when freed,
until the first one is freed: its dynamic threshold then rises to that size,
later buffers come from the per-thread heaps, and the holes they leave are
kept. Measured on a 1,000,000-point JSON equity curve in the results
service: peak growth 35 MB with a fixed threshold, 46-60 MB without, rising
by 30-40 MB with every further request.

Arrow's own pool (mimalloc) keeps freed pages resident too, so Arrow
allocates through the same system allocator.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

import pyarrow as pa

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's default, fixed so that it no longer moves


def release_large_buffers(threshold: int = MMAP_THRESHOLD_BYTES) -> None:
    """Fixes glibc's mmap threshold and points Arrow at the system allocator; a no-op without glibc.

    threshold: buffers of this many bytes and more are mapped on their own (glibc's default unless
    a process that sends larger pieces asks for more, as the results service does).
    """
    pa.set_memory_pool(pa.system_memory_pool())
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS): nothing to fix
        log.info("mallopt unavailable: the allocator's defaults stay")
        return
    if not mallopt(M_MMAP_THRESHOLD, threshold):
        log.warning("mallopt(M_MMAP_THRESHOLD) refused: the allocator's defaults stay")


M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter: free memory at the heap's top kept before it is returned
HEAP_BUFFER_BYTES = 32 << 20  # the largest mmap threshold glibc's own adjustment reaches (64-bit)
KEPT_FREE_BYTES = 128 << 20


def reuse_large_buffers() -> None:
    """Serves buffers under 32 MiB from the heap and keeps up to 128 MiB of it free; a no-op without glibc.

    The opposite trade to `release_large_buffers`, for a process whose work is
    one big computation after another (an executor). A million-bar run
    allocates and frees dozens of 8 MB arrays (signal, engine columns, metrics,
    Parquet pages). glibc's moving threshold serves some of them from the heap
    but returns the heap's free top above twice the last freed size, so every
    run faulted its arrays in afresh: about 6,000-7,700 page faults and 20-30 ms
    of a 110-140 ms computation (measured in process, docs/benchmarks.md). Kept,
    the same memory is reused and the peak RSS does not move; arrays of 32 MiB
    and more (a 10,000,000-bar run's) are still mapped and unmapped on their own.
    """
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS): nothing to change
        log.info("mallopt unavailable: the allocator's defaults stay")
        return
    if not (mallopt(M_MMAP_THRESHOLD, HEAP_BUFFER_BYTES) and mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES)):
        log.warning("mallopt refused the executor's thresholds: the allocator's defaults stay")
