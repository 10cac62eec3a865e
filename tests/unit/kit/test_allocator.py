"""The allocator policies: a padded heap (catalog uploads) and kept large buffers (executor runs) stop page faults."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")


_PADDED = textwrap.dedent(
    """
    import ctypes, resource
    from services.kit import allocator
    libc = ctypes.CDLL(None)
    # As in the catalog (services.kit.allocator.release_large_buffers): without the pad, each buffer below
    # would be mapped and unmapped on its own, 256 faults per MiB (measured: 205,600 here).
    assert libc.mallopt(-3, 128 * 1024) == 1  # M_MMAP_THRESHOLD
    assert allocator.pad_heap()
    if hasattr(libc, "mallinfo2"):  # glibc 2.33 and later: the heap is padded at once
        libc.mallinfo2.restype = allocator._MallInfo2
        assert libc.mallinfo2().keepcost >= allocator.TOP_PAD_BYTES
    data = bytes(range(256)) * 4096  # 1 MiB
    for _ in range(20):  # warm: the pad's pages become resident once
        copies = [bytes(bytearray(data)) for _ in range(4)]
        del copies
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(100):
        copies = [bytes(bytearray(data)) for _ in range(4)]
        del copies
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    # 800 fresh MiB would be 204,800 faults; reused memory takes next to none.
    assert faults < 5_000, faults
    assert allocator.pad_heap()  # once per value: a second call changes nothing
    """
)


def test_the_main_heap_keeps_the_pad_and_megabyte_buffers_stop_faulting():
    # In a process of its own: the allocator's settings are process-wide and would stay in the test worker.
    run = subprocess.run(
        [sys.executable, "-c", _PADDED], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[3]
    )
    assert run.returncode == 0, run.stderr[-2000:]


_THREADS = textwrap.dedent(
    """
    import ctypes, os, threading
    from services.kit import allocator

    def rss_mib():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) // 1024

    def main_heap():
        with open("/proc/self/maps") as maps:
            line = next(line for line in maps if line.rstrip().endswith("[heap]"))
        return [int(bound, 16) for bound in line.split()[0].split("-")]

    assert allocator.one_heap()  # as the catalog starts: first of all, then the fixed threshold and the pad
    libc = ctypes.CDLL(None)
    libc.malloc.argtypes, libc.malloc.restype = [ctypes.c_size_t], ctypes.c_void_p
    libc.free.argtypes, libc.free.restype = [ctypes.c_void_p], None
    allocator.release_large_buffers()
    assert allocator.pad_heap()
    before = rss_mib()
    outside = []

    def work():  # what the catalog's worker threads do with an upload: megabyte buffers, written, freed
        pointer = libc.malloc(64)  # a thread's first allocation: from a heap of its own before
        low, high = main_heap()
        if not low <= pointer < high:
            outside.append(pointer)
        libc.free(pointer)
        for _ in range(3):
            buffers = [bytearray(os.urandom(1)) * (2 << 20) for _ in range(4)]
            del buffers

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(len(outside), rss_mib() - before)
    """
)


def test_worker_threads_allocate_from_the_padded_heap_and_keep_nothing_of_their_own():
    # With an arena per thread, glibc padded each (M_TOP_PAD) and never trimmed one below the pad:
    # each thread kept the pages of its buffers, 65 to 113 MiB here after 8 threads had ended (a
    # fresh catalog's first 958 MB import grew by up to +280 MiB that way). Sharing the padded main
    # heap, they keep at most what the pad holds, 1 to 17 MiB measured.
    run = subprocess.run(
        [sys.executable, "-c", _THREADS], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[3]
    )
    assert run.returncode == 0, run.stderr[-2000:]
    outside, kept = map(int, run.stdout.split())
    assert outside == 0, f"{outside} allocations of worker threads came from heaps of their own"
    assert kept < 40, f"{kept} MiB kept after the threads ended"


_ROUNDS = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from services.kit.allocator import reuse_large_buffers
    if sys.argv[1] == "reuse":
        reuse_large_buffers()

    def one_run():
        # what a million-bar run does: a dozen 8 MB arrays alive at once, then all freed
        arrays = [np.ones(1_000_000) for _ in range(12)]
        return sum(float(a[-1]) for a in arrays)

    one_run(); one_run()
    faults = []
    for _ in range(5):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        one_run()
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    print(max(faults))
    """
)


def _faults_per_run(mode: str) -> int:
    run = subprocess.run(
        [sys.executable, "-c", _ROUNDS, mode],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[3],
        check=True,
    )
    return int(run.stdout.split()[-1])


def test_a_runs_arrays_reuse_the_heap_instead_of_faulting_in_fresh_pages() -> None:
    # 96 MB of arrays is 23,000 pages: glibc's defaults return thousands of them after each run
    # and fault them in again on the next; kept, the next run touches no new page.
    assert _faults_per_run("default") > 3_000
    assert _faults_per_run("reuse") < 500
