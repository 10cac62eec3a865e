"""gateway/envoy.yaml under Envoy's own schema and the startup checks Envoy runs after parsing.

No Envoy binary runs here. The file is parsed into Envoy's `Bootstrap`
message (xds-protos) with unknown fields rejected, every Any is resolved and
checked against its own message, the protoc-gen-validate rules carried in
the descriptors are applied, and then the checks Envoy makes when it builds
listeners, routes and filters: route regexes compiled with RE2 against
Envoy's program-size limit, route clusters that exist, HTTP/2 where gRPC
goes, the transcoder's services in the descriptor set, Lua scripts that
load, files that exist. Local replies are rendered from `local_reply_config`
as Envoy renders them and compared with the local gateway's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import re2
from google.protobuf import descriptor_pb2, json_format

from gateway.transcoder.edge_filters import API_KEY_REJECTION
from gateway.transcoder.response_rendering import local_reply_body
from gateway.transcoder.status_mapping import LOCAL_REPLY_CODES
from tests.unit.deploy.envoy_api import load_bootstrap, messages_of, walk
from tests.unit.deploy.envoy_local_reply import JSON, local_reply
from tests.unit.deploy.lua_harness import load_script
from tests.unit.deploy.proto_constraints import unpack_any, violations

# Envoy refuses a route regex whose RE2 program is larger than this
# (runtime key re2.max_program_size.error_level, default 100).
RE2_MAX_PROGRAM_SIZE = 100
# RouteConfiguration.max_direct_response_body_size_bytes when unset.
DIRECT_RESPONSE_DEFAULT_LIMIT = 4096
ROUTER = "envoy.filters.http.router"
TRANSCODER = "envoy.filters.http.grpc_json_transcoder"


@pytest.fixture(scope="module")
def bootstrap(envoy: dict[str, Any]):
    """envoy.yaml as Envoy's Bootstrap message."""
    return load_bootstrap(envoy)


@pytest.fixture(scope="module")
def manager(bootstrap):
    """The one HttpConnectionManager, unpacked."""
    (listener,) = bootstrap.static_resources.listeners
    (chain,) = listener.filter_chains
    (network_filter,) = chain.filters
    return unpack_any(network_filter.typed_config)


@pytest.fixture(scope="module")
def filters(manager) -> list[tuple[str, Any]]:
    """(name, unpacked typed_config) of each HTTP filter, in chain order."""
    return [(f.name, unpack_any(f.typed_config)) for f in manager.http_filters]


@pytest.fixture(scope="module")
def transcoder_config(filters):
    (config,) = [config for name, config in filters if name == TRANSCODER]
    return config


@pytest.fixture(scope="module")
def descriptor_methods(root: Path, transcoder_config) -> dict[str, set[str]]:
    """Service full name -> its method names, from the descriptor set envoy.yaml loads."""
    path = root / transcoder_config.proto_descriptor
    assert path.is_file(), f"{path} is missing: run `make proto`"
    files = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes()).file
    return {f"{f.package}.{s.name}": {m.name for m in s.method} for f in files for s in f.service}


def test_every_any_resolves_to_a_known_message(bootstrap) -> None:
    # load_bootstrap already refused unknown fields; here every Any, however deep, must unpack.
    unknown = [path for path, m in _anys(bootstrap) if unpack_any(m) is None]
    assert unknown == []


def _anys(bootstrap):
    found = []
    for path, message in walk(bootstrap):
        for field, value in message.ListFields():
            if field.message_type is None or field.message_type.full_name != "google.protobuf.Any":
                continue
            found += [(f"{path}.{field.name}", v) for v in (value if field.is_repeated else [value])]
    return found


def test_protoc_gen_validate_rules_hold(bootstrap) -> None:
    assert violations(bootstrap) == []


def test_route_regexes_fit_envoys_re2_program_size(bootstrap) -> None:
    regexes = messages_of(bootstrap, "envoy.type.matcher.v3.RegexMatcher")
    assert regexes, "no regex in the config: this test checks nothing"
    too_big = {m.regex: re2.compile(m.regex).programsize for _, m in regexes}
    assert {regex: size for regex, size in too_big.items() if size > RE2_MAX_PROGRAM_SIZE} == {}


def test_routes_name_clusters_that_exist(bootstrap) -> None:
    clusters = {c.name for c in bootstrap.static_resources.clusters}
    actions = messages_of(bootstrap, "envoy.config.route.v3.RouteAction")
    assert actions
    assert {a.cluster for _, a in actions} <= clusters


def test_router_is_last_and_the_status_filter_sees_the_transcoded_response(filters) -> None:
    names = [name for name, _ in filters]
    assert names[-1] == ROUTER and names.count(ROUTER) == 1
    assert names[0] == "envoy.filters.http.health_check"
    # Responses pass the filters in reverse: x_http_code must come before the transcoder
    # to see its JSON response; the key check before it, so nothing unauthenticated is transcoded.
    assert names.index("backtest.api_key") < names.index("backtest.x_http_code") < names.index(TRANSCODER)


def test_grpc_routes_reach_clusters_that_speak_http2(bootstrap, manager) -> None:
    http2 = set()
    for cluster in bootstrap.static_resources.clusters:
        options = cluster.typed_extension_protocol_options.get("envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
        if options is not None and unpack_any(options).explicit_http_config.HasField("http2_protocol_options"):
            http2.add(cluster.name)
    grpc_clusters = {route.route.cluster for route in _routes(manager) if route.match.HasField("grpc")}
    assert grpc_clusters and grpc_clusters <= http2


def _routes(manager) -> list[Any]:
    (host,) = manager.route_config.virtual_hosts
    return list(host.routes)


def test_transcoder_services_and_routed_methods_are_in_the_descriptor(
    transcoder_config, manager, descriptor_methods: dict[str, set[str]]
) -> None:
    assert set(transcoder_config.services) <= set(descriptor_methods)
    paths = {f"/{service}/{method}" for service in transcoder_config.services for method in descriptor_methods[service]}
    for route in _routes(manager):
        match = route.match
        if not match.HasField("grpc"):
            continue
        kind = match.WhichOneof("path_specifier")
        if kind == "path":
            assert match.path in paths, route.name
        elif kind == "prefix":
            assert any(p.startswith(match.prefix) for p in paths), route.name
        elif kind == "safe_regex":
            assert any(re2.fullmatch(match.safe_regex.regex, p) for p in paths), route.name
        else:
            raise AssertionError(f"{route.name}: match kind {kind} not checked")


def test_lua_scripts_load(root: Path, filters, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_API_KEYS", "a-key")  # the deployments require it (see test_lua_filters)
    scripts = [config for _, config in filters if config.DESCRIPTOR.full_name.endswith("lua.v3.Lua")]
    assert scripts
    for config in scripts:
        source = config.default_source_code
        path = root / source.filename
        lua = load_script(path)
        handlers = [n for n in ("envoy_on_request", "envoy_on_response") if lua.globals()[n] is not None]
        assert handlers, f"{path} defines neither envoy_on_request nor envoy_on_response"


def test_files_envoy_reads_at_startup_exist(root: Path, bootstrap, transcoder_config) -> None:
    sources = [m for _, m in messages_of(bootstrap, "envoy.config.core.v3.DataSource") if m.filename]
    assert sources
    for source in sources:
        assert (root / source.filename).is_file(), source.filename
    assert (root / transcoder_config.proto_descriptor).is_file()


def test_direct_responses_fit_the_body_limit(root: Path, manager) -> None:
    limit = manager.route_config.max_direct_response_body_size_bytes
    limit = limit.value if manager.route_config.HasField("max_direct_response_body_size_bytes") else None
    for route in _routes(manager):
        if route.HasField("direct_response") and route.direct_response.body.filename:
            size = (root / route.direct_response.body.filename).stat().st_size
            assert size <= (limit or DIRECT_RESPONSE_DEFAULT_LIMIT), (route.name, size)


def test_json_formats_hold_only_values_envoy_accepts(bootstrap) -> None:
    # "Only string values, nested structs, list values and number values are supported".
    def kinds(value: Any) -> set[type]:
        if isinstance(value, dict):
            return set().union(*(kinds(v) for v in value.values())) if value else set()
        if isinstance(value, list):
            return set().union(*(kinds(v) for v in value)) if value else set()
        return {type(value)}

    for path, fmt in messages_of(bootstrap, "envoy.config.core.v3.SubstitutionFormatString"):
        if fmt.HasField("json_format"):
            assert kinds(json_format.MessageToDict(fmt.json_format)) <= {str, float, int}, path


def test_per_route_filter_configs_name_filters_of_the_chain(manager, filters) -> None:
    names = {name for name, _ in filters}
    for route in _routes(manager):
        for name, config in route.typed_per_filter_config.items():
            assert name in names, (route.name, name)
            kind = unpack_any(config).DESCRIPTOR.full_name
            assert kind in ("envoy.config.route.v3.FilterConfig", "envoy.extensions.filters.http.lua.v3.LuaPerRoute")


# --- local replies: what Envoy answers itself, against the local gateway -----

# (status, the text the filter passes, a request as it looks at that moment)
REST_GET = {":path": "/api/v1/nothing", ":method": "GET"}
REST_JSON = {":path": "/api/v1/backtests", ":method": "POST", "content-type": "application/json"}
# After transcoding, the request is a gRPC call and keeps the client's path here.
TRANSCODED = {
    ":path": "/backtest.v1.CatalogService/GetBacktest",
    ":method": "POST",
    "content-type": "application/grpc",
    "x-envoy-original-path": "/api/v1/backtests/x",
}
LOCAL_REPLIES = [
    (404, "Could not resolve /api/v1/nothing to a method.", REST_GET),  # reject_unknown_method
    (400, 'Unexpected token.\n{"name": \n          ^', REST_JSON),  # malformed JSON
    (400, "Unknown query parameter: page", REST_GET),  # reject_unknown_query_parameters
    (400, "header names with underscores are rejected", REST_GET),  # headers_with_underscores_action
    (413, "Request rejected because the transcoder's internal buffer size exceeds the configured limit.", REST_JSON),
    (500, "Response not transcoded because the transcoder's internal buffer size exceeds the limit.", TRANSCODED),
    (502, "upstream connect error or disconnect/reset before headers", TRANSCODED),
    (503, "no healthy upstream", TRANSCODED),
    (504, "upstream request timeout", TRANSCODED),
    (408, "request header timeout", REST_GET),
]


@pytest.mark.parametrize(
    ("status", "text", "request_headers"), LOCAL_REPLIES, ids=[f"{s}-{t.split()[0]}" for s, t, _ in LOCAL_REPLIES]
)
def test_envoys_local_replies_are_the_local_gateways_status_json(
    manager, status: int, text: str, request_headers: dict[str, str]
) -> None:
    reply = local_reply(manager.local_reply_config, status, text, request_headers)
    assert (reply.status, reply.content_type) == (status, JSON)
    assert json.loads(reply.body) == json.loads(local_reply_body(status, text))


def test_every_error_status_gets_the_local_gateways_code(manager) -> None:
    statuses = [*LOCAL_REPLY_CODES, 403, 405, 408, 429, 431, 501]  # the table, then a few it leaves to UNKNOWN
    for status in statuses:
        reply = local_reply(manager.local_reply_config, status, "a reason", REST_GET)
        assert reply.content_type == JSON, status
        assert json.loads(reply.body) == json.loads(local_reply_body(status, "a reason")), status


def test_api_key_rejection_passes_unchanged(manager) -> None:
    # The Lua filter's respond() is a local reply too; its body is already the Status JSON.
    rejection = API_KEY_REJECTION.decode()
    reply = local_reply(manager.local_reply_config, 401, rejection, REST_GET, {"content-type": JSON})
    assert (reply.status, reply.content_type, reply.body) == (401, JSON, rejection)


def test_health_check_replies_keep_their_empty_body(manager) -> None:
    for status in (200, 503):  # 503 while draining
        reply = local_reply(manager.local_reply_config, status, "", {":path": "/healthz", ":method": "GET"})
        assert (reply.status, reply.content_type, reply.body) == (status, None, "")


def test_native_grpc_local_replies_are_left_to_grpc(manager) -> None:
    # A gRPC client's own call (no transcoding): Envoy puts the text in grpc-message; no JSON in it.
    grpc_call = {":path": "/backtest.v1.CatalogService/GetBacktest", "content-type": "application/grpc"}
    reply = local_reply(manager.local_reply_config, 404, "route not found", grpc_call)
    assert reply.body == "route not found"


def test_the_checks_have_teeth(envoy: dict[str, Any]) -> None:
    # What Envoy refuses, these checks refuse too: an unknown field, a broken PGV rule, a big regex.
    broken = json.loads(json.dumps(envoy))
    broken["static_resources"]["clusters"][0]["connect_timeot"] = "2s"
    with pytest.raises(json_format.ParseError, match="connect_timeot"):
        load_bootstrap(broken)
    broken = json.loads(json.dumps(envoy))
    broken["static_resources"]["clusters"][0]["connect_timeout"] = "0s"
    broken["static_resources"]["clusters"][0]["load_assignment"]["cluster_name"] = ""
    assert len(violations(load_bootstrap(broken))) == 2
    listed = "/backtest\\.v1\\.CatalogService/(ListBacktests|GetBacktest|ListEngines|GetTask|ListStrategies|"
    listed += "GetStrategy|ListSeries|GetSeries)"  # the route regex envoy.yaml had: Envoy would not start
    assert re2.compile(listed).programsize > RE2_MAX_PROGRAM_SIZE
