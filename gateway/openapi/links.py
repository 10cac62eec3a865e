"""OpenAPI links between operations, found from the paths and response fields alone.

Three rules, no table of endpoints:
- a response with an `id` names the resource under its path: the `id` of a
  POST to /x feeds the first variable of every /x/{v}... operation; the `id`
  of any operation on /x/{v} feeds `v` of the other operations under /x/{v};
- a response field named like a path variable (task_id, strategy_id,
  backtest_id) feeds that variable of every operation that has it;
- a response field named like a field of a JSON request body feeds it,
  through `requestBody` (an object of the fields it sets, which schemathesis
  merges into the body it generates); the `id` above feeds a body field
  named like the resource's path variable (a strategy's id -> strategy_id).
Clients and fuzzers (schemathesis' stateful tests) follow them: create ->
get -> patch -> delete, execute -> task, a backtest -> another like it.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.openapi.contract import Binding

_FIRST_VARIABLE = re.compile(r"^/\{([^}]+)\}")


def add_links(operations: list[tuple[Binding, str, dict[str, Any]]]) -> None:
    """Adds `links` to each operation's success response.

    operations: (binding, operationId, operation object) of every operation in the document.
    """
    for binding, op_id, operation in operations:
        fields = _output_fields(binding)
        if not fields:
            continue
        links: dict[str, Any] = {}
        resource = _resource_name(binding, [b for b, _, _ in operations])
        for other, other_id, _ in operations:
            if other_id == op_id:
                continue
            link: dict[str, Any] = {"operationId": other_id}
            parameters = _parameters(binding, other, fields)
            if parameters:
                link["parameters"] = parameters
            body = _body(binding, other, resource)
            if body:
                link["requestBody"] = body
            if len(link) > 1:
                links[other_id] = link
        if links:
            success = next(iter(operation["responses"].values()))
            success["links"] = links


def _output_fields(binding: Binding) -> set[str]:
    method = binding.method
    if method.server_streaming or method.output_type.full_name.startswith("google."):
        return set()  # a JSON array or a well-known type: no field to address
    return {f.name for f in method.output_type.fields if f.type == f.TYPE_STRING and not f.is_repeated}


def _parameters(source: Binding, target: Binding, fields: set[str]) -> dict[str, str]:
    parameters = {v: f"$response.body#/{v}" for v in target.variables if v in fields}
    if "id" in fields:
        variable = _resource_variable(source, target)
        if variable is not None and variable not in parameters:
            parameters[variable] = "$response.body#/id"
    return parameters


def _resource_variable(source: Binding, target: Binding) -> str | None:
    """The variable of `target` that names the resource whose `id` `source` returns."""
    if source.variables and source.path.endswith("{" + source.variables[-1] + "}"):
        # source acts on /x/{v}: its id is v for everything else under /x/{v}
        variable = source.variables[-1]
        return variable if target.path.startswith(source.path) and variable in target.variables else None
    if source.http_method != "post":
        return None
    rest = target.path[len(source.path) :] if target.path.startswith(source.path) else ""
    match = _FIRST_VARIABLE.match(rest)
    return match.group(1) if match else None


def _resource_name(source: Binding, bindings: list[Binding]) -> str | None:
    """The path variable that names the resource whose `id` `source` returns (e.g. strategy_id)."""
    for target in bindings:
        variable = _resource_variable(source, target)
        if variable is not None:
            return variable
    return None


def _body(source: Binding, target: Binding, resource: str | None) -> dict[str, str]:
    """The requestBody entries of `target` (a body "*" operation) that `source`'s response can fill."""
    method = source.method
    if target.body != "*" or method.server_streaming or method.output_type.full_name.startswith("google."):
        return {}
    produced = {f.name for f in method.output_type.fields}
    wanted = {f.name for f in target.method.input_type.fields} - set(target.variables)
    body = {name: f"$response.body#/{name}" for name in sorted(produced & wanted) if name != "id"}
    if resource is not None and resource in wanted and "id" in produced:
        body[resource] = "$response.body#/id"
    return body
