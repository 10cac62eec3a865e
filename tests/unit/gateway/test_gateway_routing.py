"""Routing from google.api.http annotations, as Envoy's path matcher does it."""

from __future__ import annotations


def test_path_variable_reaches_the_rpc(client) -> None:
    reply = client.request("GET", "/v1/widgets/w1")
    assert reply.status == 200
    assert reply.json()["widget_id"] == "w1"


def test_literal_segment_beats_a_variable(client) -> None:
    reply = client.request("GET", "/v1/widgets/featured")
    assert reply.json()["display_name"] == "Featured"


def test_literal_route_of_another_method_falls_back_to_the_variable(client) -> None:
    # Only POST /v1/widgets/compare exists: a GET backtracks to GET /v1/widgets/{widget_id}, as in Envoy.
    assert client.request("POST", "/v1/widgets/compare", b'{"widget_ids":["a","b"]}').json() == {"compared": 2}
    assert client.request("GET", "/v1/widgets/compare").json()["widget_id"] == "compare"


def test_single_segment_variable_is_fully_percent_decoded(client) -> None:
    assert client.request("GET", "/v1/widgets/a%20b%2Fc%25").json()["widget_id"] == "a b/c%"


def test_multi_segment_variable_keeps_reserved_characters_escaped(client) -> None:
    reply = client.request("GET", "/v1/echo/a/b%2Fc/d%20e")
    assert reply.json()["path"] == "a/b%2Fc/d e"


def test_trailing_slashes_are_ignored(client) -> None:
    assert client.request("GET", "/v1/widgets/w1/").json()["widget_id"] == "w1"
    assert client.request("GET", "/v1/widgets/w1//").json()["widget_id"] == "w1"


def test_dot_segments_and_repeated_slashes_are_normalized(client) -> None:
    # envoy.yaml: normalize_path and merge_slashes.
    assert client.request("GET", "/v1//widgets/x/../w2").json()["widget_id"] == "w2"


def test_additional_binding_with_a_nested_path_variable(client) -> None:
    widget = client.request("GET", "/v1/shelves/top/widgets/w7").json()
    assert widget["widget_id"] == "w7"
    assert widget["location"] == {"shelf": "top", "bin": 0}


def test_custom_verb(client) -> None:
    reply = client.request("POST", "/v1/widgets/w3:archive", b"{}")
    assert reply.status == 200
    assert reply.json()["archived"] is True
    # Without the registered verb the colon is part of the segment.
    assert client.request("GET", "/v1/widgets/w3:other").json()["widget_id"] == "w3:other"


def test_unmapped_path_is_404_with_a_status_body(client) -> None:
    reply = client.request("GET", "/v1/nothing/here")
    assert reply.status == 404
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == {"code": 5, "message": "Could not resolve /v1/nothing/here to a method.", "details": []}


def test_wrong_method_is_404(client) -> None:
    assert client.request("PUT", "/v1/widgets/w1", b"{}").status == 404
    assert client.request("HEAD", "/v1/search").status == 404


def test_services_not_listed_are_not_routed(client) -> None:
    assert client.request("GET", "/v1/hidden").status == 404


def test_keep_alive_serves_many_requests_on_one_connection(client) -> None:
    client.request("GET", "/v1/widgets/a")
    sock = client.connection.sock
    for number in range(20):
        assert client.request("GET", f"/v1/widgets/{number}").status == 200
    assert client.connection.sock is sock
