"""glibc's allocator, told per process how to treat large buffers: give them back, or keep them.

Three policies, each measured where it is used (docs/benchmarks.md):

- `release_large_buffers` (catalog, results service): streams allocate and
  free buffers of a few megabytes all day (Parquet pages, JSON text chunks,
  HttpBody messages, uploaded CSV blocks) from many worker threads. glibc
  maps such buffers on their own and unmaps them when freed, until the
  first one is freed: its dynamic threshold then rises to that size, later
  buffers come from the per-thread heaps, and the holes they leave are
  kept. Measured on a 1,000,000-point JSON equity curve in the results
  service: peak growth 35 MB with a fixed threshold, 46-60 MB without,
  rising by 30-40 MB with every further request. Arrow's own pool (mimalloc)
  keeps freed pages resident too, so Arrow allocates through the same
  system allocator.
- `pad_heap` (catalog, results service and gateway, beside the fixed threshold): a streamed upload
  allocates and frees a few 1 MiB buffers per message in the event loop's
  thread (gRPC joins the message, protobuf decodes it, the request guard and
  the handler each take a copy of its bytes). Mapped one by one, every copy
  touched fresh pages: a 77 MB upload cost the catalog about 170,000 page
  faults, a third of its CPU spent in the kernel. A heap whose free top is
  padded (M_TOP_PAD) serves those buffers from memory it keeps: the same
  upload takes about 4,000 faults, for up to the pad of freed memory kept
  resident. Every thread allocates from that one heap (`one_heap`): with an
  arena per thread, glibc padded each new arena too (a whole 64 MiB heap,
  never trimmed below the pad), each worker thread's buffers came from its
  own arena and left their pages resident there, and a fresh catalog's
  first 958 MB import grew by +55 to +152 MiB (+280 seen), 14 arenas of
  64 MiB holding a few kB in use at the end (malloc_stats). Arenas without
  the pad still summed every thread's own peak (+61 to +182 MiB, and the
  conversion twice as slow, its buffers mapped afresh). The results service
  uses both too, with a 4 MiB pad (row_printing.HEAP_PAD_BYTES): a JSON
  stream's batch arrays and Arrow's column buffers, at its 256 KiB
  threshold, were mapped and faulted in afresh every batch.
  The gateway pads its heap by 4 MiB as well, for the gRPC buffers and
  bytes of each streamed message it passes through.
- `reuse_large_buffers` (executor): the opposite trade to the first, for a
  process whose work is one big computation after another (below).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1  # free memory at the heap's top kept before it is returned
M_TOP_PAD = -2  # bytes a heap grows by beyond a request and keeps when it shrinks
M_MMAP_THRESHOLD = -3  # buffers this large and larger are mapped on their own
M_ARENA_MAX = -8  # how many heaps (arenas) the threads spread over

MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's default, fixed so that it no longer moves
TOP_PAD_BYTES = 64 << 20
HEAP_BUFFER_BYTES = 32 << 20  # the largest mmap threshold glibc's own adjustment reaches (64-bit)
KEPT_FREE_BYTES = 128 << 20
_PRIMING_BYTES = 64 << 10  # below the mmap threshold: served by growing the heap, which adds the pad

_applied: set[int] = set()


def _libc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has mallopt); None elsewhere (musl, macOS)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def release_large_buffers(threshold: int = MMAP_THRESHOLD_BYTES) -> None:
    """Fixes glibc's mmap threshold and points Arrow at the system allocator; a no-op without glibc.

    threshold: buffers of this many bytes and more are mapped on their own (glibc's default unless
    a process that sends larger pieces asks for more, as the results service does).
    """
    import pyarrow as pa  # here: one_heap() runs before anything that starts threads is imported

    pa.set_memory_pool(pa.system_memory_pool())
    libc = _libc()
    if libc is None:
        log.info("mallopt unavailable: the allocator's defaults stay")
        return
    if not libc.mallopt(M_MMAP_THRESHOLD, threshold):
        log.warning("mallopt(M_MMAP_THRESHOLD) refused: the allocator's defaults stay")


def reuse_large_buffers() -> None:
    """Serves buffers under 32 MiB from the heap and keeps up to 128 MiB of it free; a no-op without glibc.

    A million-bar run allocates and frees dozens of 8 MB arrays (signal,
    engine columns, metrics, Parquet pages). glibc's moving threshold serves
    some of them from the heap but returns the heap's free top above twice
    the last freed size, so every run faulted its arrays in afresh: about
    6,000-7,700 page faults and 20-30 ms of a 110-140 ms computation
    (measured in process). Kept, the same memory is reused and the peak RSS
    does not move; arrays of 32 MiB and more (a 10,000,000-bar run's) are
    still mapped and unmapped on their own.
    """
    libc = _libc()
    if libc is None:
        log.info("mallopt unavailable: the allocator's defaults stay")
        return
    if not (libc.mallopt(M_MMAP_THRESHOLD, HEAP_BUFFER_BYTES) and libc.mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES)):
        log.warning("mallopt refused the executor's thresholds: the allocator's defaults stay")


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ] + [("keepcost", ctypes.c_size_t)]


def one_heap() -> bool:
    """Makes every thread started from now on allocate from the main heap (M_ARENA_MAX=1); False without glibc.

    Call it before importing anything that starts threads (numpy starts OpenBLAS's,
    pyarrow jemalloc's): glibc hands a new thread one of the arenas that already
    exist, so one made earlier would still be shared out.
    """
    libc = _libc()
    return libc is not None and libc.mallopt(M_ARENA_MAX, 1) == 1


def pad_heap(top_pad: int = TOP_PAD_BYTES) -> bool:
    """Sets glibc's M_TOP_PAD for this process and pads the main heap now; False where there is no glibc.

    Call it from the thread that runs the event loop (the main thread), after `one_heap`
    (glibc pads every arena with M_TOP_PAD, and never trims one below it): a buffer at
    or above the mmap threshold is served from the heap's free top only when the top is
    large enough, else mapped on its own, so the main heap is grown once here to hold
    the pad (later shrinking keeps it). Like MALLOC_TOP_PAD_ in the environment.
    """
    if top_pad in _applied:
        return True
    libc = _libc()
    if libc is None:
        return False
    mallopt, malloc, free = libc.mallopt, libc.malloc, libc.free
    malloc.argtypes, malloc.restype = [ctypes.c_size_t], ctypes.c_void_p
    free.argtypes, free.restype = [ctypes.c_void_p], None
    if mallopt(M_TOP_PAD, top_pad) != 1:
        return False
    _applied.add(top_pad)
    mallinfo2 = getattr(libc, "mallinfo2", None)
    if mallinfo2 is None:  # glibc before 2.33: the pad applies from the heap's next growth on
        return True
    mallinfo2.argtypes, mallinfo2.restype = [], _MallInfo2
    held = []
    try:
        # Each allocation the top cannot serve grows the heap by itself plus the pad.
        for _ in range(top_pad // _PRIMING_BYTES + 1):
            if mallinfo2().keepcost >= top_pad:
                break
            held.append(malloc(_PRIMING_BYTES))
    finally:
        for pointer in held:
            free(pointer)
    return True


GIVE_BACK_EVERY = 32  # stream messages (1 MiB each) between two trims: a few ms of a second's work


def giving_back(items: Iterable[T], every: int = GIVE_BACK_EVERY, *, keep: int = TOP_PAD_BYTES) -> Iterator[T]:
    """`items`, returning the heap's free pages to the system (malloc_trim) after every `every` of them.

    A long upload frees buffers of every size in one heap; pages of free chunks between
    used ones stay resident (glibc trims only the heap's top), so the heap's resident set
    grew with each stretch of fragmentation. `keep`: the free top kept (the pad).
    """
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    for count, item in enumerate(items, 1):
        yield item
        if trim is not None and count % every == 0:
            trim(keep)
