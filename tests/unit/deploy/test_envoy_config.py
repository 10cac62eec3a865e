"""gateway/envoy.yaml against the contract and the rules of ENVOY-NOTES.md.

Routes are resolved the way Envoy does (first match wins) for every method
in the descriptor set, so a new RPC is checked without touching this file.
The Lua filters run in LuaJIT (the runtime Envoy embeds) with a stand-in for
Envoy's stream handle.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

# Before the descriptor set is parsed, or the google.api.http option reads back empty.
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

from backtest.v1 import http_options_pb2
from services.kit.grpc_server import MAX_MESSAGE_BYTES
from tests.unit.deploy.lua_harness import load_script, on_request, on_response

HTTP2_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
HTTP_BODY = ".google.api.HttpBody"


def _descriptor_path(root: Path) -> str:
    """Where `make proto` writes the descriptor set, read from the Makefile itself."""
    match = re.search(r"^DESCRIPTOR\s*:?=\s*(\S+)\s*$", (root / "Makefile").read_text(), re.MULTILINE)
    assert match, "Makefile no longer defines DESCRIPTOR"
    return match.group(1)


@pytest.fixture(scope="module")
def methods(root: Path) -> dict[str, dict[str, descriptor_pb2.MethodDescriptorProto]]:
    """Service full name -> method name -> method, from the descriptor set."""
    path = root / _descriptor_path(root)
    assert path.is_file(), f"{path} is missing: run `make proto`"
    files = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes()).file
    return {
        f"{file.package}.{service.name}": {method.name: method for method in service.method}
        for file in files
        for service in file.service
    }


def _verb(method: descriptor_pb2.MethodDescriptorProto) -> str | None:
    """The REST verb of a method ("get", "post", ...), None when it has no google.api.http rule."""
    if not method.options.HasExtension(annotations_pb2.http):
        return None
    return method.options.Extensions[annotations_pb2.http].WhichOneof("pattern")


@pytest.fixture(scope="module")
def public(methods: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services with REST mappings: the ones the gateway must serve."""
    return {name: ms for name, ms in methods.items() if any(_verb(m) for m in ms.values())}


@pytest.fixture(scope="module")
def routes(hcm: dict[str, Any]) -> list[dict[str, Any]]:
    """The routes of the one virtual host, in order."""
    (host,) = hcm["route_config"]["virtual_hosts"]
    return host["routes"]


def _route_for(routes: list[dict[str, Any]], path: str) -> dict[str, Any] | None:
    """The route Envoy picks for a gRPC path: the first that matches."""
    for route in routes:
        match = route["match"]
        if "path" in match:
            hit = match["path"] == path
        elif "prefix" in match:
            hit = path.startswith(match["prefix"])
        elif "safe_regex" in match:
            hit = re.fullmatch(match["safe_regex"]["regex"], path) is not None  # RE2 matches the whole path
        else:
            raise AssertionError(f"route {route.get('name')}: match kind this test cannot evaluate")
        if hit:
            return route
    return None


def _seconds(duration: str) -> float:
    assert duration.endswith("s"), duration
    return float(duration[:-1])


def _route_of(routes: list[dict[str, Any]], service: str, method: str) -> dict[str, Any]:
    route = _route_for(routes, f"/{service}/{method}")
    assert route is not None, f"/{service}/{method} has no route"
    return route["route"]


def test_config_has_one_listener_with_a_json_access_log(hcm: dict[str, Any]) -> None:
    (log,) = hcm["access_log"]
    fields = log["typed_config"]["log_format"]["json_format"]
    assert {"ts", "level", "service", "msg", "status", "path", "duration_ms"} <= set(fields)


def test_descriptor_path_is_what_make_proto_writes(root: Path, transcoder: dict[str, Any]) -> None:
    assert transcoder["proto_descriptor"] == _descriptor_path(root) == "gen/descriptor.binpb"


def test_transcoder_serves_exactly_the_services_with_rest_mappings(
    transcoder: dict[str, Any], public: dict[str, Any], methods: dict[str, Any]
) -> None:
    assert set(transcoder["services"]) == set(public)
    assert {"backtest.v1.CatalogService", "backtest.v1.ResultsService"} <= set(public)
    assert "backtest.v1.RunReportService" in methods and "backtest.v1.RunReportService" not in public


def test_every_public_method_is_routed_to_one_cluster_per_service(
    public: dict[str, dict[str, Any]], routes: list[dict[str, Any]], envoy: dict[str, Any]
) -> None:
    clusters = {cluster["name"] for cluster in envoy["static_resources"]["clusters"]}
    for service, service_methods in public.items():
        targets = {_route_of(routes, service, name)["cluster"] for name in service_methods}
        assert len(targets) == 1 and targets <= clusters, (service, targets)


def test_internal_services_are_not_routed(
    methods: dict[str, dict[str, Any]], public: dict[str, Any], routes: list[dict[str, Any]]
) -> None:
    # Executors reach RunReportService directly; through the gateway it would be open to anyone.
    for service in set(methods) - set(public):
        for name in methods[service]:
            assert _route_for(routes, f"/{service}/{name}") is None, f"{service}/{name} is routed"


def test_filter_order_puts_health_auth_and_lua_before_the_transcoder(http_filters: list[dict[str, Any]]) -> None:
    names = [f["name"] for f in http_filters]
    assert names[0] == "envoy.filters.http.health_check"
    assert names[-1] == "envoy.filters.http.router"
    transcoder_at = names.index("envoy.filters.http.grpc_json_transcoder")
    # Response filters run in reverse: the Lua filter must see the transcoded response.
    assert names.index("backtest.x_http_code") < transcoder_at
    assert names.index("backtest.api_key") < transcoder_at


def test_lua_filters_load_the_files_in_gateway_lua(root: Path, lua_files: dict[str, str]) -> None:
    # One copy of each script: Envoy reads the file, nothing is inlined.
    assert set(lua_files.values()) == {str(p.relative_to(root)) for p in (root / "gateway/lua").glob("*.lua")}
    assert set(lua_files) == {"backtest.api_key", "backtest.x_http_code"}


def test_print_options_equal_the_local_gateways(root: Path, transcoder: dict[str, Any]) -> None:
    shared = json.loads((root / "gateway/print_options.json").read_text())
    assert transcoder["print_options"] == shared
    # The design's JSON: snake_case keys, zero values printed, enums as names, compact.
    assert shared == {
        "preserve_proto_field_names": True,
        "always_print_primitive_fields": True,
        "always_print_enums_as_ints": False,
        "add_whitespace": False,
    }


def test_transcoder_validates_requests_and_converts_grpc_status(transcoder: dict[str, Any]) -> None:
    assert transcoder["convert_grpc_status"] is True
    assert transcoder["request_validation_options"] == {
        "reject_unknown_method": True,
        "reject_unknown_query_parameters": True,
    }
    # Routes match the gRPC path after transcoding.
    assert not transcoder.get("match_incoming_request_route", False)
    assert not transcoder.get("ignore_unknown_query_parameters", False)


def test_body_size_limits_fit_the_services_message_limit(transcoder: dict[str, Any]) -> None:
    assert 0 < transcoder["max_request_body_size"] < MAX_MESSAGE_BYTES
    assert transcoder["max_response_body_size"] > 0


def test_every_cluster_speaks_http2_and_checks_grpc_health(
    envoy: dict[str, Any], public: dict[str, Any], routes: list[dict[str, Any]]
) -> None:
    served_by = {_route_of(routes, s, next(iter(ms)))["cluster"]: s for s, ms in public.items()}
    for cluster in envoy["static_resources"]["clusters"]:
        options = cluster["typed_extension_protocol_options"][HTTP2_OPTIONS]
        assert "http2_protocol_options" in options["explicit_http_config"], cluster["name"]
        (check,) = cluster["health_checks"]
        assert check["grpc_health_check"]["service_name"] == served_by[cluster["name"]]


def test_sync_execute_outlasts_the_catalogs_own_timeout(root: Path, routes: list[dict[str, Any]]) -> None:
    route = _route_of(routes, "backtest.v1.CatalogService", "ExecuteBacktest")
    compose = yaml.safe_load((root / "deploy/compose.yaml").read_text())
    (config,) = yaml.safe_load_all((root / "deploy/k8s/config.yaml").read_text())
    deployed = {
        float(compose["services"]["catalog"]["environment"]["SYNC_EXECUTE_TIMEOUT_S"]),
        float(config["data"]["SYNC_EXECUTE_TIMEOUT_S"]),
    }
    # The catalog must time out first, so the client gets its answer, not Envoy's 504.
    assert _seconds(route["timeout"]) > max(deployed) >= 300
    assert _seconds(route["idle_timeout"]) >= _seconds(route["timeout"])


def test_parquet_downloads_have_no_timeout(public: dict[str, dict[str, Any]], routes: list[dict[str, Any]]) -> None:
    downloads = {
        (service, name)
        for service, service_methods in public.items()
        for name, method in service_methods.items()
        if method.server_streaming and method.output_type == HTTP_BODY
    }
    assert {
        ("backtest.v1.ResultsService", "DownloadEquityCurve"),
        ("backtest.v1.ResultsService", "DownloadTrades"),
    } <= downloads
    for service, name in downloads:
        assert _seconds(_route_of(routes, service, name)["timeout"]) == 0, name


def test_only_get_calls_are_retried(public: dict[str, dict[str, Any]], routes: list[dict[str, Any]]) -> None:
    # A POST, PATCH, PUT or DELETE may have reached the service: re-sending it could run twice.
    # A method without a REST rule (the typed curve and trade streams) is read-only when AIP names it so.
    for service, service_methods in public.items():
        for name, method in service_methods.items():
            retried = "retry_policy" in _route_of(routes, service, name)
            verb = _verb(method) or ("get" if name.startswith(("Get", "List")) else None)
            assert retried == (verb == "get"), f"{service}/{name}"


def test_health_endpoint_is_the_one_the_probes_use(http_filters: list[dict[str, Any]]) -> None:
    (header,) = http_filters[0]["typed_config"]["headers"]
    assert header == {"name": ":path", "string_match": {"exact": "/healthz"}}


# --- the Lua filters, run in LuaJIT -----------------------------------------


def _lua(root: Path, script: str) -> Any:
    return load_script(root / "gateway/lua" / script)


@pytest.mark.parametrize(
    ("status", "wanted", "final"),
    [("200", "201", "201"), ("400", "422", "422"), ("500", "201", "500"), ("200", "422", "200"), ("200", "302", "200")],
)
def test_x_http_code_refines_the_status_and_never_leaks(root: Path, status: str, wanted: str, final: str) -> None:
    headers, body = on_response(_lua(root, "x_http_code.lua"), {":status": status, "x-http-code": wanted}, "{}")
    assert headers[":status"] == final
    assert "x-http-code" not in headers
    assert body == "{}"


def test_x_http_code_204_sends_no_body(root: Path) -> None:
    headers, body = on_response(
        _lua(root, "x_http_code.lua"),
        {":status": "200", "x-http-code": "204", "content-length": "2", "content-type": "application/json"},
        "{}",
    )
    assert headers == {":status": "204"}
    assert body == ""


def test_x_http_code_leaves_other_responses_alone(root: Path) -> None:
    original = {":status": "200", "content-type": "application/json"}
    assert on_response(_lua(root, "x_http_code.lua"), original, None) == (original, None)


@pytest.mark.parametrize("original", [{":status": "503"}, {":status": "200", "x-http-code": "201"}])
def test_every_503_tells_the_client_when_to_retry(root: Path, original: dict[str, str]) -> None:
    headers, _ = on_response(_lua(root, "x_http_code.lua"), dict(original), "{}")
    assert ("retry-after" in headers) == (original[":status"] == "503")
    if original[":status"] == "503":
        assert headers["retry-after"] == "1"


def test_a_503_keeps_the_retry_after_it_already_has(root: Path) -> None:
    headers, _ = on_response(_lua(root, "x_http_code.lua"), {":status": "503", "retry-after": "30"}, "{}")
    assert headers["retry-after"] == "30"


@pytest.mark.parametrize("configured", [None, "", ",", " , ,\t", "\n"])
def test_api_key_filter_without_keys_refuses_to_load(
    root: Path, monkeypatch: pytest.MonkeyPatch, configured: str | None
) -> None:
    # Fail closed: Envoy runs the script's top level at config load, and an error there stops it starting.
    from lupa.luajit21 import LuaError  # the runtime's own error class

    if configured is None:
        monkeypatch.delenv("GATEWAY_API_KEYS", raising=False)
    else:
        monkeypatch.setenv("GATEWAY_API_KEYS", configured)
    with pytest.raises(LuaError, match="GATEWAY_API_KEYS names no API key"):
        _lua(root, "api_key.lua")


@pytest.mark.parametrize("content_type", ["application/grpc", "application/grpc+proto"])
@pytest.mark.parametrize("wanted", ["201", "204", "422"])
def test_x_http_code_leaves_native_grpc_responses_untouched(root: Path, content_type: str, wanted: str) -> None:
    # A gRPC client calling through the public port needs its 200 and its initial metadata as sent.
    status = "400" if wanted == "422" else "200"
    original = {":status": status, "content-type": content_type, "x-http-code": wanted}
    assert on_response(_lua(root, "x_http_code.lua"), original, "\x00\x00\x00\x00\x00") == (
        original,
        "\x00\x00\x00\x00\x00",
    )


@pytest.mark.parametrize("credential", [{"x-api-key": "new-key"}, {"authorization": "Bearer old-key"}])
def test_configured_keys_pass_and_are_not_forwarded(
    root: Path, monkeypatch: pytest.MonkeyPatch, credential: dict[str, str]
) -> None:
    monkeypatch.setenv("GATEWAY_API_KEYS", "old-key, new-key")
    headers, handle = on_request(_lua(root, "api_key.lua"), {":path": "/api/v1/strategies", **credential})
    assert handle.reply_headers is None
    assert "x-api-key" not in headers and "authorization" not in headers


@pytest.mark.parametrize(
    "credential", [{}, {"x-api-key": "wrong"}, {"authorization": "Bearer "}, {"authorization": "Basic old-key"}]
)
def test_missing_or_wrong_key_gets_401_as_a_status_body(
    root: Path, monkeypatch: pytest.MonkeyPatch, credential: dict[str, str]
) -> None:
    monkeypatch.setenv("GATEWAY_API_KEYS", "old-key,new-key")
    _, handle = on_request(_lua(root, "api_key.lua"), {":path": "/api/v1/strategies", **credential})
    assert handle.reply_headers[":status"] == "401"
    assert json.loads(handle.reply_body) == {"code": 16, "message": "missing or invalid API key", "details": []}


def test_long_lived_streams_have_no_timeout_and_are_not_buffered(
    public: dict[str, dict[str, Any]], routes: list[dict[str, Any]], http_filters: list[dict[str, Any]]
) -> None:
    watches = {
        (service, name)
        for service, service_methods in public.items()
        for name, method in service_methods.items()
        if method.options.Extensions[http_options_pb2.rest].long_lived
    }
    assert ("backtest.v1.CatalogService", "WatchTask") in watches
    for service, name in watches:
        route = _route_of(routes, service, name)
        assert public[service][name].server_streaming, name
        assert _seconds(route["timeout"]) == 0, name
        # Elements come only when the task changes: a quiet hour of a long run must not end the stream.
        assert _seconds(route["idle_timeout"]) >= 3600, name
    # Nothing between the client and the transcoder holds a streamed body back.
    names = [f["name"] for f in http_filters]
    assert not any("buffer" in name or "compressor" in name for name in names), names
