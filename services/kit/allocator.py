"""glibc's allocator told to keep freed heap memory for reuse rather than hand it back to the kernel at once.

A streamed upload allocates and frees a few 1 MiB buffers per message in the
event loop's thread (gRPC joins the message, protobuf decodes it, the request
guard and the handler each take a copy of its bytes), and Arrow allocates
through the same allocator (services.kit.memory_release). With the mmap
threshold fixed at 128 KiB (memory_release), each such buffer was mapped on
its own and unmapped when freed, so every copy of every message touched fresh
pages: a 77 MB upload cost the catalog about 170,000 page faults, a third of
its CPU spent in the kernel. A heap whose free top is padded (M_TOP_PAD)
serves those buffers from memory it keeps: the same upload takes about
4,000 faults. The cost is up to the pad of freed memory kept resident per
malloc heap in use.
"""

from __future__ import annotations

import ctypes
import sys

M_TOP_PAD = -2  # glibc's mallopt parameter: bytes a heap grows by beyond a request and keeps when it shrinks
TOP_PAD_BYTES = 64 << 20
_PRIMING_BYTES = 64 << 10  # below the mmap threshold: served by growing the heap, which adds the pad

_applied: set[int] = set()


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ] + [("keepcost", ctypes.c_size_t)]


def pad_heap(top_pad: int = TOP_PAD_BYTES) -> bool:
    """Sets glibc's M_TOP_PAD for this process and pads the main heap now; False where there is no glibc.

    Call it from the thread that runs the event loop (the main thread): a buffer at or
    above the mmap threshold is served from the heap's free top only when the top is
    large enough, else mapped on its own, so the main heap is grown once here to hold
    the pad (later shrinking keeps it). Like MALLOC_TOP_PAD_ in the environment.
    """
    if top_pad in _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt, malloc, free = libc.mallopt, libc.malloc, libc.free
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
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
