"""The whole OpenAPI 3.1 document: info, security, paths, components."""

from __future__ import annotations

from typing import Any

from gateway.openapi.contract import Contract
from gateway.openapi.links import add_links
from gateway.openapi.operations import build_operation, operation_id
from gateway.openapi.schemas import Schemas

OPENAPI_VERSION = "3.1.0"
_INTRO = """The REST form of the platform's gRPC contract (protos/backtest/v1), as Envoy's \
grpc_json_transcoder and the local gateway serve it. Generated from the descriptor set by \
`make proto`; every path comes from a google.api.http annotation.

JSON keys are the proto field names; fields without presence are always printed; a server \
stream is a bare JSON array. Errors are google.rpc.Status JSON; validation errors (422) carry \
google.rpc.BadRequest field violations. With GATEWAY_API_KEYS set (every deployment), each \
call needs `x-api-key: <key>` or `authorization: Bearer <key>`."""


def build_document(contract: Contract, *, title: str = "Backtest platform API") -> dict[str, Any]:
    """The document for every annotated service of the descriptor set.

    contract: the loaded descriptor set.
    title: info.title.
    """
    schemas = Schemas(contract)
    operations = []
    counts: dict[str, int] = {}
    for binding in contract.bindings():
        key = binding.method.full_name
        op_id = operation_id(binding, counts.get(key, 0))
        counts[key] = counts.get(key, 0) + 1
        operations.append((binding, op_id, build_operation(contract, schemas, binding, op_id)))
    add_links(operations)
    paths: dict[str, dict[str, Any]] = {}
    for binding, _, operation in operations:
        paths.setdefault(binding.path, {})[binding.http_method] = operation
    packages = sorted({b.service.file.package for b, _, _ in operations})
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": ", ".join(packages),
            "description": _INTRO,
        },
        "tags": [
            {"name": name, "description": contract.comments.get(full_name, "")}
            for name, full_name in dict.fromkeys((b.service.name, b.service.full_name) for b, _, _ in operations)
        ],
        # Optional ({}): the local development gateway runs without keys.
        "security": [{"apiKey": []}, {"bearer": []}, {}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }
