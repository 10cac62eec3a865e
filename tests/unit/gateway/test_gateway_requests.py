"""Building the gRPC request: query parameters, bodies, HttpBody uploads, metadata."""

from __future__ import annotations

import hashlib
import socket

import pytest

SEARCH = (
    "/v1/search?query=a%20b+c&page_size=5&big_number=9007199254740993&ratio=0.25"
    "&flags=true&flags=0&flags=YES&filter.min_parts=3&filter.tags=x&filter.tags=y"
    "&filter.color=COLOR_BLUE&filter.includeArchived=true&filter.max_price=9.5"
    "&colors=COLOR_RED&colors=2&token=AQID&before=2024-01-02T03:04:05Z&page=7&lonely"
)


def test_query_parameters_are_coerced_by_field_type(client) -> None:
    reply = client.request("GET", SEARCH)
    assert reply.status == 200
    assert reply.body == (
        b'{"query":"a b+c","page_size":5,"big_number":"9007199254740993","ratio":0.25,'
        b'"flags":[true,false,true],"filter":{"min_parts":3,"tags":["x","y"],"color":"COLOR_BLUE",'
        b'"include_archived":true,"max_price":9.5},"colors":["COLOR_RED","COLOR_BLUE"],"token":"AQID",'
        b'"before":"2024-01-02T03:04:05Z","page":7}'
    )


def test_json_names_bind_too_and_the_last_value_wins(client) -> None:
    assert client.request("GET", "/v1/search?pageSize=3&page_size=4").json()["page_size"] == 4


def test_unknown_query_parameter_is_400(client) -> None:
    reply = client.request("GET", "/v1/search?nope=1")
    assert reply.status == 400
    assert reply.json() == {
        "code": 3,
        "message": 'Could not find field "nope" in the type "gwtest.v1.SearchRequest".',
        "details": [],
    }
    assert client.request("GET", "/v1/search?filter.nope=1").status == 400


@pytest.mark.parametrize(
    "query",
    ["page_size=abc", "page_size=1.5", "page_size=99999999999", "flags=maybe", "filter.color=PURPLE",
     "colors=9", "ratio=ten", "before=yesterday", "filter=x", "token=***"],
)  # fmt: skip
def test_query_values_that_do_not_fit_the_field_are_400(client, query: str) -> None:
    reply = client.request("GET", f"/v1/search?{query}")
    assert reply.status == 400, query
    assert reply.json()["code"] == 3


def test_body_star_with_path_variable_and_unknown_fields_ignored(client) -> None:
    body = b'{"display_name":"New","tags":["a"],"no_such_field":{"x":1}}'
    reply = client.request("PATCH", "/v1/widgets/w9", body, {"content-type": "application/json"})
    assert reply.status == 200
    assert reply.json()["widget_id"] == "w9"
    assert reply.json()["display_name"] == "New"


def test_a_singular_field_set_by_body_and_path_takes_the_body(client) -> None:
    # grpc-httpjson-transcoding drops the binding when the body sets the field (no collision check by default).
    reply = client.request("PATCH", "/v1/widgets/from-path", b'{"widget_id":"from-body"}')
    assert reply.json()["widget_id"] == "from-body"


def test_named_body_field_and_query_outside_it(client) -> None:
    reply = client.request("POST", "/v1/widgets/w4/label?reason=because", b'{"key":"k","value":"v"}')
    assert reply.json()["labels"] == {"k": "v"}
    assert reply.json()["note"] == "because"


def test_empty_body_is_an_empty_object(client) -> None:
    reply = client.request("POST", "/v1/widgets")
    assert reply.status == 201
    assert reply.json()["display_name"] == ""


@pytest.mark.parametrize("body", [b"{not json", b'{"display_name": NaN}', b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_malformed_or_non_object_json_is_400(client, body: bytes) -> None:
    reply = client.request("POST", "/v1/widgets", body)
    assert reply.status == 400
    assert reply.json()["code"] == 3


def test_json_of_the_wrong_type_for_a_field_is_400(client) -> None:
    assert client.request("POST", "/v1/widgets", b'{"part_count": "many"}').status == 400


def test_json_body_over_the_limit_is_413(client) -> None:
    reply = client.request("POST", "/v1/widgets", b'{"display_name":"' + b"x" * 5000 + b'"}')
    assert reply.status == 413
    assert reply.headers["connection"] == "close"


def test_chunked_request_body(client) -> None:
    pieces = iter([b'{"display_name":', b'"Chunky"}'])
    client.connection.request("POST", "/v1/widgets", body=pieces, encode_chunked=True)
    response = client.connection.getresponse()
    assert response.status == 201
    assert b'"display_name":"Chunky"' in response.read()


def test_expect_continue_over_the_limit_gets_413_before_the_body(gateway) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(
            b"PUT /v1/blobs/huge HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\nExpect: 100-continue\r\n\r\n"
        )
        head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 413 ")


def test_expect_continue_within_the_limit_gets_100_then_the_answer(gateway) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(b"PUT /v1/blobs/small HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"abc")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")


def test_http_body_upload_gets_raw_bytes_and_content_type(client) -> None:
    data = bytes(range(256)) * 400  # 100 KiB: over the JSON limit, within the upload limit
    reply = client.request("PUT", "/v1/blobs/prices.csv?overwrite=true", data, {"content-type": "text/csv"})
    assert reply.status == 200
    assert reply.json() == {
        "name": "prices.csv",
        "content_type": "text/csv",
        "size": str(len(data)),
        "sha256": hashlib.sha256(data).hexdigest(),
        "overwrite": True,
    }


def test_http_body_upload_over_its_limit_is_413(client) -> None:
    reply = client.request("PUT", "/v1/blobs/huge", b"x" * ((1 << 20) + 1))
    assert reply.status == 413
    assert reply.json()["code"] == 8


def test_request_headers_become_metadata(client) -> None:
    headers = {"x-custom": "hello", "authorization": "Bearer t", "x-request-id": "req-1", "x-envoy-internal": "true"}
    metadata = client.request("GET", "/v1/echo/a?x", None, headers).json()["metadata"]
    assert metadata["x-custom"] == "hello"
    assert metadata["authorization"] == "Bearer t"  # forwarded when no API keys are configured
    assert metadata["x-request-id"] == "req-1"
    assert metadata["x-envoy-original-method"] == "GET"
    assert metadata["x-envoy-original-path"] == "/v1/echo/a?x"
    assert metadata["x-forwarded-for"] == "127.0.0.1"
    assert "x-envoy-internal" not in metadata and "host" not in metadata


def test_a_query_parameter_for_a_path_bound_field_comes_last_and_wins(client) -> None:
    assert client.request("GET", "/v1/echo/a/b?path=q").json()["path"] == "q"


def test_header_names_with_underscores_are_rejected(client) -> None:
    # envoy.yaml: headers_with_underscores_action REJECT_REQUEST.
    assert client.request("GET", "/v1/widgets/w1", None, {"x_custom": "1"}).status == 400


# Found by tests/e2e/test_hostile_fields.py: a lone surrogate is no Unicode text, so no string field can hold
# it; the answer was a 400 naming only the top-level field (for a Struct) or the bytes' position (in a path).
@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"display_name": "a\\ud800"}', "display_name"),
        (b'{"attributes": {"deep": {"list": [1, "x\\udfff"]}}}', "attributes.deep.list[1]"),
        (b'{"attributes": {"ke\\ud800y": 1}}', "attributes.ke\\ud800y"),
    ],
)
def test_a_lone_surrogate_in_a_json_body_is_400_naming_its_path(client, body: bytes, path: str) -> None:
    reply = client.request("POST", "/v1/widgets", body, {"content-type": "application/json"})
    assert reply.status == 400
    assert reply.json()["code"] == 3
    assert f"{path}: " in reply.json()["message"]


def test_a_path_variable_that_is_not_utf8_is_400_naming_it(client) -> None:
    reply = client.request("GET", "/v1/widgets/w%ED%A0%80")
    assert reply.status == 400
    assert reply.json()["message"].startswith("widget_id: ")


def test_a_query_value_that_is_not_utf8_is_400_naming_it(client) -> None:
    reply = client.request("GET", "/v1/search?query=a%ED%A0%80")
    assert reply.status == 400
    assert reply.json()["message"].startswith("query: ")
