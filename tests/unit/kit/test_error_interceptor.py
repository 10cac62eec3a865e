"""The error interceptor over a real gRPC server on a free port: what a client sees for each kind of failure."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import exc as sa_exc

from backtest.v1 import backtest_pb2, catalog_pb2, catalog_pb2_grpc
from services.domain.errors import ConflictError, NotFoundError, ValidationError
from services.kit.grpc_server import GrpcService
from services.kit.status import from_rpc_error


class Failing(catalog_pb2_grpc.CatalogServiceServicer):
    """GetBacktest raises whatever the test put in `error`; ListBacktests yields one message first."""

    error: Exception

    async def GetBacktest(self, request, context):
        raise self.error

    async def ListBacktests(self, request, context):
        yield backtest_pb2.Backtest(id="first")
        raise self.error


def _call(error: Exception, method: str = "GetBacktest") -> grpc.RpcError:
    async def run() -> grpc.RpcError:
        servicer = Failing()
        servicer.error = error
        name = catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name
        service = GrpcService([(catalog_pb2_grpc.add_CatalogServiceServicer_to_server, servicer, name)], "127.0.0.1:0")
        await service.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
                stub = catalog_pb2_grpc.CatalogServiceStub(channel)
                try:
                    if method == "GetBacktest":
                        await stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id="x"))
                    elif method == "ListBacktests":
                        [m async for m in stub.ListBacktests(catalog_pb2.ListBacktestsRequest())]
                    else:
                        await stub.DeleteStrategy(catalog_pb2.DeleteStrategyRequest(strategy_id="x"))
                except grpc.aio.AioRpcError as err:
                    return err
                raise AssertionError("the call succeeded")
        finally:
            await service.stop()

    return asyncio.run(run())


def test_validation_error_is_invalid_argument_with_field_violations_and_the_422_header():
    err = _call(ValidationError.single("config.symbol", "required"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("x-http-code", "422") in tuple(err.initial_metadata())
    status = rpc_status.from_call(err)
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert [(v.field, v.description) for v in bad.field_violations] == [("config.symbol", "required")]
    assert from_rpc_error(err).violations[0].field == "config.symbol"


@pytest.mark.parametrize(
    ("error", "code"),
    [(NotFoundError("backtest", "b1"), grpc.StatusCode.NOT_FOUND), (ConflictError("running"), grpc.StatusCode.ABORTED)],
)
def test_platform_errors_keep_their_code_and_message(error, code):
    err = _call(error)
    assert err.code() == code
    assert err.details() == error.message
    assert type(from_rpc_error(err)) is type(error)


def test_a_lost_database_connection_is_unavailable_and_hides_where_the_database_is():
    driver = ConnectionRefusedError("connection to server at 10.1.2.3, port 5432 failed")
    err = _call(sa_exc.OperationalError("SELECT secret FROM backtests", {}, driver))
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert "database is unavailable" in err.details()
    for leak in ("10.1.2.3", "5432", "SELECT", "OperationalError"):
        assert leak not in err.details()


def test_a_bug_is_internal_with_an_error_id_and_no_exception_text():
    err = _call(KeyError("secret_column"))
    assert err.code() == grpc.StatusCode.INTERNAL
    assert err.details().startswith("internal error (error id ")
    assert "secret_column" not in err.details() and "KeyError" not in err.details()


def test_a_stream_that_fails_after_its_first_message_still_ends_with_the_error_status():
    err = _call(NotFoundError("backtest", "b2"), method="ListBacktests")
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_methods_the_servicer_does_not_implement_stay_unimplemented():
    err = _call(RuntimeError("unused"), method="DeleteStrategy")
    assert err.code() == grpc.StatusCode.UNIMPLEMENTED


def _raw_call(data: bytes, method: str) -> grpc.RpcError:
    """Sends `data` as the request bytes of a CatalogService method, as a client writing its own bytes would."""

    async def run() -> grpc.RpcError:
        servicer = Failing()
        servicer.error = AssertionError("the servicer must not see an undecodable request")
        name = catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name
        service = GrpcService([(catalog_pb2_grpc.add_CatalogServiceServicer_to_server, servicer, name)], "127.0.0.1:0")
        await service.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
                call = channel.unary_stream if method == "ListBacktests" else channel.unary_unary
                rpc = call(f"/{name}/{method}", request_serializer=lambda raw: raw, response_deserializer=bytes)
                try:
                    if method == "ListBacktests":
                        [m async for m in rpc(data)]
                    else:
                        await rpc(data)
                except grpc.aio.AioRpcError as err:
                    return err
                raise AssertionError("the call succeeded")
        finally:
            await service.stop()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("method", "data", "field"),
    [
        # GetBacktestRequest.backtest_id (field 1) holding a lone surrogate's WTF-8 bytes.
        ("GetBacktest", b"\x0a\x03\xed\xa0\x80", "backtest_id"),
        # ListBacktestsRequest.strategy_id (field 1) holding a stray 0xFF.
        ("ListBacktests", b"\x0a\x02a\xff", "strategy_id"),
        # Bytes that are no message at all: a length running past the end.
        ("GetBacktest", b"\x0a\x05ab", "request"),
    ],
)
def test_request_bytes_protobuf_refuses_are_invalid_argument_naming_the_field(method, data, field):
    # Found by tests/e2e/test_hostile_fields.py: gRPC answered UNKNOWN naming protobuf's DecodeError class.
    err = _raw_call(data, method)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err
    assert "DecodeError" not in err.details()
    assert [v.field for v in from_rpc_error(err).violations] == [field]
