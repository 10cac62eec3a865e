"""Printing responses as Envoy does, and the x-http-code rule of the Lua filter."""

from __future__ import annotations

CREATE = (
    b'{"display_name":"Gear","part_count":3,"tags":["a","b"],"attributes":{"a":10,"b":0.5,"n":{"x":[1,"s",true,null]}}}'
)


def test_print_options_exactly(client) -> None:
    reply = client.request("POST", "/v1/widgets", CREATE, {"content-type": "application/json"})
    # Proto names, declaration order, zero values and empty lists/maps printed, enums as names,
    # int64 as a string, doubles as C++ prints them (100000, not 100000.0), unset messages and
    # optional fields omitted, no whitespace.
    assert reply.body == (
        b'{"widget_id":"w-new","display_name":"Gear","part_count":3,"weight_grams":"1234567890123",'
        b'"price":100000,"ratio":0.1,"archived":false,"color":"COLOR_UNSPECIFIED","tags":["a","b"],'
        b'"attributes":{"a":10,"b":0.5,"n":{"x":[1,"s",true,null]}},"labels":{},'
        b'"created_at":"2024-01-01T00:00:00.500Z","blob":""}'
    )
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["content-length"] == str(len(reply.body))


def test_x_http_code_201_replaces_200(client) -> None:
    reply = client.request("POST", "/v1/widgets", CREATE)
    assert reply.status == 201
    assert "x-http-code" not in reply.headers


def test_x_http_code_204_has_no_body_no_length_no_type(client) -> None:
    reply = client.request("DELETE", "/v1/widgets/w1")
    assert reply.status == 204
    assert reply.body == b""
    assert "content-length" not in reply.headers and "content-type" not in reply.headers
    # The connection stays usable after a bodiless response.
    assert client.request("GET", "/v1/widgets/w1").status == 200


def test_a_success_code_never_hides_a_failure(client) -> None:
    reply = client.request("GET", "/v1/widgets/created-then-failed")
    assert reply.status == 404
    assert reply.json() == {"code": 5, "message": "gone", "details": []}


def test_unary_success_carries_grpc_status_like_envoy(client) -> None:
    assert client.request("GET", "/v1/widgets/w1").headers["grpc-status"] == "0"


def test_zero_values_printed_and_optional_unset_omitted(client) -> None:
    assert client.request("GET", "/v1/search").json() == {
        "query": "", "page_size": 0, "big_number": "0", "ratio": 0, "flags": [], "colors": [], "token": "",
    }  # fmt: skip


def test_response_over_the_limit_is_500(client) -> None:
    reply = client.request("GET", "/v1/widgets/big")
    assert reply.status == 500
    assert reply.json()["code"] == 13
