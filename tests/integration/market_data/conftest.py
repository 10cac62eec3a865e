"""The real catalog process (`python -m services.catalog`) on the test database and S3 store.

Market data is the catalog's contact with the object store, so these tests
run the process exactly as deployed, with the S3 settings the other
integration tests leave undialled, and look behind its back with an
ObjectStore of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc
import pytest

from backtest.v1 import catalog_pb2_grpc
from services.adapters.object_store import ObjectStore, S3Location
from services.catalog import migrate
from services.catalog.import_bars import catalog_channel
from tests.fixtures.service_process import start_service

COLLECTION_GRACE_S = 3


@pytest.fixture(scope="session")
def market_store(s3_server) -> ObjectStore:
    """An ObjectStore on the bucket of this session's catalog, to check what the catalog stored."""
    bucket = f"market-data-{uuid.uuid4().hex[:12]}"
    store = ObjectStore(S3Location(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, bucket))
    store.ensure_bucket()
    return store


@pytest.fixture(scope="session")
def catalog_address(database_url, nats_url, market_store) -> Iterator[str]:
    """host:port of a catalog process serving on a free port; stopped at the end of the session."""
    migrate.upgrade(database_url)
    location = market_store.location
    env = {
        "DATABASE_URL": database_url,
        "GRPC_LISTEN": "127.0.0.1:0",
        "S3_ENDPOINT": location.endpoint,
        "S3_ACCESS_KEY": location.access_key,
        "S3_SECRET_KEY": location.secret_key,
        "S3_BUCKET": location.bucket,
        "NATS_URL": nats_url,
        "BUS_NAMESPACE": f"md{uuid.uuid4().hex[:8]}_",
        # Replaced series versions are collected within seconds here (a day by default).
        "ARTIFACT_GC_INTERVAL_S": "1",
        "ARTIFACT_GC_GRACE_S": str(COLLECTION_GRACE_S),
    }
    catalog = start_service("services.catalog", env)
    yield catalog.address
    catalog.stop()


@pytest.fixture(scope="session")
def stub(catalog_address) -> Iterator[catalog_pb2_grpc.CatalogServiceStub]:
    """A CatalogService client over a real channel."""
    with catalog_channel(catalog_address) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        yield catalog_pb2_grpc.CatalogServiceStub(channel)


@pytest.fixture
def collection_grace_s() -> float:
    """How long this catalog keeps a replaced series version (ARTIFACT_GC_GRACE_S)."""
    return COLLECTION_GRACE_S


@pytest.fixture
def symbol() -> str:
    """A ticker no other test uses, so tests sharing the database stay apart."""
    return f"T{uuid.uuid4().hex[:8].upper()}"
