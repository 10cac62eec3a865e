"""A migrated database and the real catalog gRPC server, in-process on port 0.

The server runs on its own event loop in a background thread, exactly as
`python -m services.catalog` assembles it; tests drive it with the
generated synchronous stub over a real channel and read the database
directly to prove that rejected requests changed nothing.
"""

from __future__ import annotations

import asyncio
import threading
import uuid

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2

from backtest.v1 import catalog_pb2, catalog_pb2_grpc
from services.catalog import migrate
from services.catalog.app import CatalogApp, build_app
from services.catalog.settings import CatalogSettings
from services.kit.settings import load_settings
from tests.fixtures.seed import seed_create_body

BUCKET = "catalog-test-artifacts"
TABLES = ("strategies", "backtests", "tasks", "outbox", "series")


def catalog_settings(database_url: str, nats_url: str, namespace: str) -> CatalogSettings:
    """Settings of the server under test; S3 is named but never dialled by these RPCs."""
    return load_settings(
        CatalogSettings,
        {
            "DATABASE_URL": database_url,
            "GRPC_LISTEN": "127.0.0.1:0",
            "S3_BUCKET": BUCKET,
            "S3_ENDPOINT": "127.0.0.1:1",
            "S3_ACCESS_KEY": "unused",
            "S3_SECRET_KEY": "unused",
            "NATS_URL": nats_url,
            "BUS_NAMESPACE": namespace,
        },
    )


class ServerThread:
    """Runs a CatalogApp on a private event loop in a daemon thread."""

    def __init__(self, settings: CatalogSettings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="catalog-server", daemon=True)
        self.app: CatalogApp | None = None

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    async def _start(self) -> CatalogApp:
        app = build_app(self.settings, grace=1.0)
        await app.start()
        return app

    def start(self) -> int:
        """Starts the server and returns its port."""
        self.thread.start()
        self.app = self._run(self._start())
        return self.app.service.port

    def stop(self) -> None:
        """Drains the server, disposes the pool and ends the loop."""
        if self.app is not None:
            self._run(self.app.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()


@pytest.fixture(scope="session")
def catalog_db(database_url: str) -> str:
    """The test database migrated to head."""
    migrate.upgrade(database_url)
    return database_url


@pytest.fixture(scope="session")
def catalog_server(catalog_db: str, nats_url: str):
    """The running server's ServerThread (its `app.servicer.settings` hold the artifact bucket)."""
    server = ServerThread(catalog_settings(catalog_db, nats_url, f"catalog{uuid.uuid4().hex[:8]}_"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stub(catalog_server: ServerThread):
    """A CatalogService stub over a real channel to the server."""
    with grpc.insecure_channel(f"127.0.0.1:{catalog_server.app.service.port}") as channel:
        yield catalog_pb2_grpc.CatalogServiceStub(channel)


@pytest.fixture(scope="session")
def sync_engine(catalog_db: str):
    """A plain synchronous engine on the test database, for looking behind the service's back."""
    engine = sa.create_engine(catalog_db)
    yield engine
    engine.dispose()


@pytest.fixture
def row_counts(sync_engine):
    """Returns the current row count of every catalog table."""

    def counts() -> dict[str, int]:
        with sync_engine.connect() as connection:
            return {t: connection.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in TABLES}

    return counts


def violated_fields(err: grpc.RpcError) -> list[str]:
    """Fields named by the BadRequest detail of a failed call's google.rpc.Status."""
    raw = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin")
    assert raw is not None, "no grpc-status-details-bin trailer"
    fields = []
    for detail in status_pb2.Status.FromString(raw).details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields += [v.field for v in bad.field_violations]
    return fields


@pytest.fixture
def expect_invalid(row_counts):
    """Asserts a call is a 422 naming `field` and that no table changed; returns the error."""

    def check(call, field: str) -> grpc.RpcError:
        before = row_counts()
        with pytest.raises(grpc.RpcError) as caught:
            call()
        err = caught.value
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
        assert dict(err.initial_metadata() or ()).get("x-http-code") == "422"
        assert field in violated_fields(err), (field, violated_fields(err))
        assert row_counts() == before
        return err

    return check


@pytest.fixture
def expect_code(row_counts):
    """Asserts a call fails with a gRPC `code` and leaves every table as it was; returns the error."""

    def check(call, code: grpc.StatusCode) -> grpc.RpcError:
        before = row_counts()
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == code, caught.value.details()
        assert row_counts() == before
        return caught.value

    return check


@pytest.fixture
def strategy_id(stub) -> str:
    """Id of a freshly created strategy."""
    return stub.CreateStrategy(catalog_pb2.CreateStrategyRequest(name="fixture strategy")).id


@pytest.fixture
def body(strategy_id: str) -> dict:
    """A valid REST body for CreateBacktest, to be broken by the test."""
    return seed_create_body(strategy_id)


@pytest.fixture
def create_backtest(stub, strategy_id):
    """Creates a backtest from the seed body (top-level keys overridden) and returns it."""

    def create(**overrides):
        request = json_format.ParseDict(
            {**seed_create_body(strategy_id), **overrides}, catalog_pb2.CreateBacktestRequest()
        )
        return stub.CreateBacktest(request)

    return create


@pytest.fixture(scope="session")
def artifact_prefix(catalog_server: ServerThread) -> str:
    """`s3://<bucket>/artifacts/`: where PATCHed artifact URIs must point."""
    return f"s3://{catalog_server.app.servicer.settings.s3_bucket}/artifacts/"
