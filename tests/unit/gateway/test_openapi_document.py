"""The OpenAPI document `make proto` writes, against the descriptor set it comes from.

Expectations are read from the descriptor set independently (the
google.api.http option through its own generated module), so a new RPC is
checked without touching this file. The generator is also run on the
gateway's own test proto, an API it has never seen, to show it needs
nothing but annotations.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from openapi_spec_validator import validate

from gateway.openapi.contract import Contract
from gateway.openapi.document import build_document

ROOT = Path(__file__).resolve().parents[3]
DESCRIPTOR = ROOT / "gen/descriptor.binpb"
DOCUMENT = ROOT / "gen/openapi.json"
_VARIABLE = re.compile(r"\{([^}=]+)(=[^}]*)?\}")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    assert DOCUMENT.is_file(), "run `make proto`"
    return json.loads(DOCUMENT.read_text())


def _rules() -> list[tuple[str, descriptor_pb2.MethodDescriptorProto, str, str]]:
    """(service, method, verb, OpenAPI path) of every google.api.http rule, read without the generator."""
    found = []
    for file in descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR.read_bytes()).file:
        for service in file.service:
            for method in service.method:
                if not method.options.HasExtension(annotations_pb2.http):
                    continue
                rule = method.options.Extensions[annotations_pb2.http]
                for each in (rule, *rule.additional_bindings):
                    verb = each.WhichOneof("pattern")
                    path = _VARIABLE.sub(lambda m: "{" + m.group(1) + "}", getattr(each, verb))
                    found.append((f"{file.package}.{service.name}", method, verb, path))
    return found


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for item in document["paths"].values() for op in item.values()}


def test_written_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_written_document_is_what_the_descriptor_set_gives(document: dict[str, Any]) -> None:
    # gen/openapi.json is not stale: the generator run now on the same set writes the same document.
    assert json.loads(json.dumps(build_document(Contract(DESCRIPTOR)))) == document


def test_every_rest_binding_is_an_operation_and_nothing_else(document: dict[str, Any]) -> None:
    rules = _rules()
    assert len(rules) >= 20
    expected = {(path, verb, f"/{service}/{method.name}") for service, method, verb, path in rules}
    described = {
        (path, verb, operation["x-grpc-method"])
        for path, item in document["paths"].items()
        for verb, operation in item.items()
    }
    assert described == expected
    assert not any("RunReportService" in grpc for _, _, grpc in described)  # no REST rule, no operation


def test_server_streams_are_bare_json_arrays(document: dict[str, Any]) -> None:
    for _, method, verb, path in _rules():
        success = document["paths"][path][verb]["responses"]
        body = next(iter(success.values())).get("content", {})
        if method.server_streaming and method.output_type != ".google.api.HttpBody":
            assert body["application/json"]["schema"]["type"] == "array", method.name
            assert body["application/json"]["schema"]["items"]["$ref"].endswith("/" + method.output_type.split(".")[-1])


def test_x_http_code_statuses_and_error_bodies(document: dict[str, Any]) -> None:
    operations = _operations(document)
    assert "201" in operations["CatalogService_CreateBacktest"]["responses"]
    assert "201" in operations["CatalogService_CreateStrategy"]["responses"]
    for delete in ("CatalogService_DeleteBacktest", "CatalogService_DeleteStrategy"):
        assert "content" not in operations[delete]["responses"]["204"]
    status_ref = {"$ref": "#/components/schemas/Status"}
    for op_id, operation in operations.items():
        responses = operation["responses"]
        for code in ("404", "4XX", "5XX"):
            assert responses[code]["content"]["application/json"]["schema"] == status_ref, (op_id, code)
        if "parameters" in operation or "requestBody" in operation:
            assert responses["422"]["content"]["application/json"]["schema"] == status_ref, op_id
    status = document["components"]["schemas"]["Status"]
    assert set(status["required"]) == {"code", "message", "details"}


def test_parquet_and_csv_bodies_are_their_media_types(document: dict[str, Any]) -> None:
    operations = _operations(document)
    for download in (
        "ResultsService_DownloadEquityCurve",
        "ResultsService_DownloadTrades",
        "CatalogService_DownloadTaskRuns",
    ):
        content = operations[download]["responses"]["200"]["content"]
        assert set(content) == {"application/vnd.apache.parquet"}
    for streamed in ("CatalogService_UploadBars", "CatalogService_AppendBars"):
        upload = operations[streamed]["requestBody"]["content"]
        assert set(upload) == {"text/csv", "application/vnd.apache.parquet"}
    bars = operations["CatalogService_DownloadBars"]["responses"]["200"]["content"]
    assert set(bars) == {"application/vnd.apache.parquet", "text/csv", "application/json"}


def test_artifact_uris_are_string_or_null_and_always_present(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    backtest = schemas["Backtest"]
    for name in ("trades_uri", "equity_curve_uri"):
        assert backtest["properties"][name]["type"] == ["string", "null"]
        assert schemas["ExecuteBacktestResponse"]["properties"][name]["type"] == ["string", "null"]
    # Fields without presence are printed even when empty: required in a response, never in a request.
    assert {"id", "status", "metrics"} - set(backtest["required"]) == {"metrics"}
    assert "required" not in schemas["RunConfig.Input"]


def test_query_and_path_parameters(document: dict[str, Any]) -> None:
    listing = document["paths"]["/api/v1/backtests"]["get"]["parameters"]
    assert {(p["name"], p["in"]) for p in listing} == {("strategy_id", "query"), ("skip", "query"), ("limit", "query")}
    get = document["paths"]["/api/v1/backtests/{backtest_id}"]["get"]["parameters"]
    assert get == [{"name": "backtest_id", "in": "path", "required": True, "schema": get[0]["schema"], **_desc(get)}]
    # A body "*" request leaves the path variable out of the body.
    patch = document["paths"]["/api/v1/backtests/{backtest_id}"]["patch"]
    assert "backtest_id" not in patch["requestBody"]["content"]["application/json"]["schema"]["properties"]


def _desc(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"description": parameters[0]["description"]} if "description" in parameters[0] else {}


def test_links_chain_create_get_patch_delete(document: dict[str, Any]) -> None:
    operations = _operations(document)
    created = operations["CatalogService_CreateBacktest"]["responses"]["201"]["links"]
    for target in ("CatalogService_GetBacktest", "CatalogService_UpdateBacktest", "CatalogService_DeleteBacktest"):
        assert created[target]["parameters"] == {"backtest_id": "$response.body#/id"}
    fetched = operations["CatalogService_GetBacktest"]["responses"]["200"]["links"]
    assert fetched["CatalogService_UpdateBacktest"]["parameters"] == {"backtest_id": "$response.body#/id"}
    dispatched = operations["CatalogService_ExecuteBacktestAsync"]["responses"]["200"]["links"]
    assert dispatched["CatalogService_GetTask"]["parameters"] == {"task_id": "$response.body#/task_id"}


def test_generator_needs_only_annotations(compiled) -> None:
    # The gateway's test proto: additional bindings, nested path variables, a named body, a custom verb.
    document = build_document(Contract(compiled.descriptor), title="gwtest")
    validate(document)
    paths = document["paths"]
    assert "/v1/shelves/{location.shelf}/widgets/{widget_id}" in paths
    assert "/v1/widgets/{widget_id}:archive" in paths
    second = paths["/v1/shelves/{location.shelf}/widgets/{widget_id}"]["get"]
    assert second["operationId"] == "WidgetService_GetWidget_2"
    label = paths["/v1/widgets/{widget_id}/label"]["post"]
    assert "requestBody" in label and all(p["name"] != "label" for p in label["parameters"])


def _imports(package: Path) -> set[str]:
    names = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
    return names


def test_generator_and_gateway_stay_apart() -> None:
    generator = _imports(ROOT / "gateway/openapi")
    assert not {m for m in generator if m.startswith(("gateway.transcoder", "services", "backtest"))}
    transcoder = _imports(ROOT / "gateway/transcoder")
    assert not {m for m in transcoder if m.startswith("gateway.openapi")}
    assert {m.split(".")[0] for m in transcoder} - {"gateway", "services", "google", "grpc", "__future__"} <= set(
        __import__("sys").stdlib_module_names
    )
