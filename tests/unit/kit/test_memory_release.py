"""The executor's allocator setting: a run's arrays reuse the memory of the run before instead of faulting it in."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_ROUNDS = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from services.kit.memory_release import reuse_large_buffers
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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_runs_arrays_reuse_the_heap_instead_of_faulting_in_fresh_pages() -> None:
    # 96 MB of arrays is 23,000 pages: glibc's defaults return thousands of them after each run
    # and fault them in again on the next; kept, the next run touches no new page.
    assert _faults_per_run("default") > 3_000
    assert _faults_per_run("reuse") < 500
