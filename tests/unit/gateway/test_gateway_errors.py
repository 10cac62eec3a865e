"""gRPC failures as Envoy answers them: its status table and google.rpc.Status bodies."""

from __future__ import annotations

import json
import socket

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2

ENVOY_TABLE = {
    "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400, "DEADLINE_EXCEEDED": 504, "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429, "FAILED_PRECONDITION": 400,
    "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501, "INTERNAL": 500, "UNAVAILABLE": 503,
    "DATA_LOSS": 500, "UNAUTHENTICATED": 401,
}  # fmt: skip


def test_the_table_covers_every_code_but_ok() -> None:
    assert set(ENVOY_TABLE) == {code.name for code in grpc.StatusCode} - {"OK"}


@pytest.mark.parametrize(("name", "http_status"), sorted(ENVOY_TABLE.items()))
def test_each_grpc_code_maps_like_envoy(client, name: str, http_status: int) -> None:
    reply = client.request("GET", f"/v1/widgets/fail-{name}")
    assert reply.status == http_status
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == {"code": grpc.StatusCode[name].value[0], "message": f"failed with {name}", "details": []}


def test_validation_error_is_422_with_bad_request_details(client) -> None:
    reply = client.request("GET", "/v1/widgets/invalid")
    assert reply.status == 422
    violation = {"field": "display_name", "description": "is empty", "reason": ""}
    assert reply.json() == {
        "code": 3,
        "message": "widget is invalid",
        "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest", "field_violations": [violation]}],
    }
    # The same as protobuf's own printer with the same options (Envoy prints the Status like a response).
    status = status_pb2.Status(code=3, message="widget is invalid")
    status.details.add().Pack(
        error_details_pb2.BadRequest(
            field_violations=[error_details_pb2.BadRequest.FieldViolation(field="display_name", description="is empty")]
        )
    )
    assert reply.json() == json_format.MessageToDict(
        status, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def test_details_the_descriptor_set_cannot_print_leave_the_body_empty(client) -> None:
    reply = client.request("GET", "/v1/widgets/unprintable")
    assert reply.status == 400
    assert reply.body == b""
    assert reply.headers["content-length"] == "0"
    assert reply.headers["grpc-status"] == "9"
    assert reply.headers["grpc-message"] == "odd details"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_upstream_down_is_503(make_gateway, connect) -> None:
    gateway = make_gateway({"gwtest.v1.WidgetService": f"127.0.0.1:{_free_port()}"})
    reply = connect(gateway.port).request("POST", "/v1/widgets", b"{}")
    assert reply.status == 503
    assert reply.json()["code"] == 14
    assert reply.headers["retry-after"] == "1"  # an outage: the client backs off and comes back


def test_upstream_deadline_is_504(make_gateway, connect, upstream) -> None:
    gateway = make_gateway({"gwtest.v1.WidgetService": upstream.address}, upstream_timeout_s=0.2)
    reply = connect(gateway.port).request("GET", "/v1/widgets/slow")
    assert reply.status == 504
    assert reply.json()["code"] == 4


def test_healthz_answers_before_any_api_key(make_gateway, connect, upstream) -> None:
    gateway = make_gateway({"gwtest.v1.WidgetService": upstream.address}, api_keys=["k1"])
    reply = connect(gateway.port).request("GET", "/healthz")
    assert (reply.status, reply.body) == (200, b"")


@pytest.mark.parametrize("credential", [{}, {"x-api-key": "wrong"}, {"authorization": "Basic k1"}])
def test_missing_or_wrong_api_key_is_401(make_gateway, connect, upstream, credential) -> None:
    gateway = make_gateway({"gwtest.v1.WidgetService": upstream.address}, api_keys=["k1", "k2"])
    reply = connect(gateway.port).request("GET", "/v1/widgets/w1", None, credential)
    assert reply.status == 401
    assert reply.headers["www-authenticate"] == 'Bearer realm="backtest"'
    assert reply.json() == {"code": 16, "message": "missing or invalid API key", "details": []}


@pytest.mark.parametrize("credential", [{"x-api-key": "k2"}, {"authorization": "Bearer k1"}])
def test_accepted_api_key_passes_and_is_not_forwarded(make_gateway, connect, upstream, credential) -> None:
    gateway = make_gateway({"gwtest.v1.WidgetService": upstream.address}, api_keys=["k1", "k2"])
    reply = connect(gateway.port).request("GET", "/v1/echo/x", None, credential)
    assert reply.status == 200
    assert not {"x-api-key", "authorization"} & set(reply.json()["metadata"])


def _raw_exchange(port: int, data: bytes, *, half_close: bool) -> bytes:
    # Bytes no well-behaved client sends, so a raw socket rather than http.client.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def _status_and_message(raw: bytes) -> tuple[int, str]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)["message"]


def test_an_oversized_request_line_is_414(gateway) -> None:
    # Found by fuzzing: a 70 KB request line closed the connection with no status.
    raw = _raw_exchange(
        gateway.port, b"GET /v1/widgets/" + b"a" * 70_000 + b" HTTP/1.1\r\nhost: x\r\n\r\n", half_close=False
    )
    assert _status_and_message(raw) == (414, "request line longer than 65536 bytes")
    assert b"content-type: application/json" in raw


def test_oversized_headers_are_431_as_json(gateway) -> None:
    raw = _raw_exchange(
        gateway.port, b"GET /v1/widgets HTTP/1.1\r\nx-big: " + b"a" * 70_000 + b"\r\n\r\n", half_close=False
    )
    assert _status_and_message(raw)[0] == 431


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'content-length: 100\r\n\r\n{"name":',
            "request body ended after 8 of the 100 bytes its content-length declared",
        ),
        (
            b"transfer-encoding: chunked\r\n\r\n40\r\n{}",
            "request body ended after 2 of the 64 bytes its chunk size declared",
        ),
    ],
)
def test_a_body_shorter_than_declared_is_400(gateway, body: bytes, message: str) -> None:
    # Found by fuzzing: the client half-closed mid-body and got no status at all.
    request = b"POST /v1/widgets HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" + body
    assert _status_and_message(_raw_exchange(gateway.port, request, half_close=True)) == (400, message)


def test_a_stalled_body_is_408(make_gateway, upstream) -> None:
    gateway = make_gateway({"gwtest.v1.WidgetService": upstream.address}, idle_timeout_s=0.3)
    request = b"POST /v1/widgets HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n{"
    assert _status_and_message(_raw_exchange(gateway.port, request, half_close=False)) == (
        408,
        "request body not received in time",
    )
