"""The embedded S3 server stores a large object in flat memory (issue 16: everything on the import path).

The catalog stores an imported series with `ObjectStore.put_file` (5 MiB
parts, three at a time). Before weed ran with GOGC=25 (deploy/embedded/s3.py)
a 320 MiB object grew it by about 300 MB, however small the parts: the garbage
of each chunk's copies stayed resident up to Go's default heap goal.
"""

from __future__ import annotations

import os
from pathlib import Path

from deploy.embedded.s3 import start_s3
from services.adapters.object_store import ObjectStore, S3Location
from tests.fixtures.peak_rss import PeakRss

OBJECT_BYTES = 320 * 2**20
"""About the Parquet file of an 18,000,000-bar (958 MB CSV) import."""
RSS_LIMIT_MB = 200


def random_file(path: Path, size: int) -> Path:
    """`size` bytes that no layer can compress, written 16 MiB at a time."""
    with path.open("wb") as out:
        for offset in range(0, size, 16 * 2**20):
            out.write(os.urandom(min(16 * 2**20, size - offset)))
    return path


def test_storing_a_320_mib_object_grows_the_s3_server_by_under_200_mb(server_dir: Path, tmp_path: Path) -> None:
    server = start_s3(server_dir, buckets=("big",))
    try:
        store = ObjectStore(S3Location(server.endpoint, server.access_key, server.secret_key, "big"))
        store.put_bytes("warm-up", os.urandom(6 * 2**20))  # one multipart-sized write pays the one-off costs
        path = random_file(tmp_path / "series.parquet", OBJECT_BYTES)
        with PeakRss(server.child.process.pid, every_s=0.02) as weed:
            store.put_file("market-data/BIG/1m/series.parquet", str(path))
        print(
            f"\nstored {OBJECT_BYTES / 2**20:.0f} MiB: S3 server RSS {weed.start / 2**20:.0f} MiB,"
            f" peak {weed.peak / 2**20:.0f} MiB (+{weed.growth_mb:.0f})"
        )
        assert store.size("market-data/BIG/1m/series.parquet") == OBJECT_BYTES
        assert weed.growth_mb < RSS_LIMIT_MB
    finally:
        server.stop()
