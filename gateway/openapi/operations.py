"""One OpenAPI operation per REST binding: parameters, request body and responses.

As Envoy's transcoder maps them: path variables bind request fields; with
`body: "*"` the JSON body is the rest of the request; with `body: "field"`
the body is that field and the other fields, like every field of a request
without a body, are query parameters (nested fields as dotted names). A
server stream is a bare JSON array; google.api.HttpBody is raw bytes of the
media types the backtest.v1.rest option names, or, with its
`response_json_array_of`, a JSON array of that message (JSON text the service
prints itself). Errors are google.rpc.Status.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor

from gateway.openapi.contract import Binding, Contract
from gateway.openapi.schemas import FD, Schemas

HTTP_BODY = "google.api.HttpBody"
STATUS = "google.rpc.Status"
JSON = "application/json"
BINARY = {"type": "string", "format": "binary"}
# Query parameters reach nested fields this deep (Envoy has no limit; nothing here goes deeper).
_MAX_QUERY_DEPTH = 3
_NOT_IN_QUERY = frozenset(("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"))


def operation_id(binding: Binding, index: int) -> str:
    """ServiceName_Method, with _2, _3 ... for a method's additional bindings."""
    base = f"{binding.service.name}_{binding.method.name}"
    return base if index == 0 else f"{base}_{index + 1}"


def build_operation(contract: Contract, schemas: Schemas, binding: Binding, op_id: str) -> dict[str, Any]:
    """The operation object of one binding (links are added by links.add_links)."""
    method = binding.method
    comment = contract.comments.get(f"{binding.service.full_name}.{method.name}", "")
    operation: dict[str, Any] = {
        "operationId": op_id,
        "tags": [binding.service.name],
        "summary": comment.split("\n")[0] if comment else method.name,
        "x-grpc-method": f"/{binding.service.full_name}/{method.name}",
    }
    if "\n" in comment:
        operation["description"] = comment
    parameters = [_path_parameter(method.input_type, name, schemas) for name in binding.variables]
    bound = {name.split(".")[0] for name in binding.variables}
    if binding.body == "*":
        operation["requestBody"] = _json_body(schemas.object(method.input_type, request=True, without=frozenset(bound)))
    else:
        if binding.body:
            bound.add(binding.body)
            operation["requestBody"] = _field_body(method.input_type.fields_by_name[binding.body], binding, schemas)
        parameters += _query_parameters(method.input_type, bound, schemas)
    if parameters:
        operation["parameters"] = parameters
    operation["responses"] = _responses(contract, binding, schemas, has_input=bool(method.input_type.fields))
    return operation


def _path_parameter(message: descriptor.Descriptor, name: str, schemas: Schemas) -> dict[str, Any]:
    field = _resolve(message, name.split("."))
    schema = schemas.field(field, request=True)
    return {"name": name, "in": "path", "required": True, "schema": schema, **_description(schema)}


def _description(schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": schema["description"]} if "description" in schema else {}


def _resolve(message: descriptor.Descriptor, names: list[str]) -> descriptor.FieldDescriptor:
    field = message.fields_by_name[names[0]]
    return field if len(names) == 1 else _resolve(field.message_type, names[1:])


def _query_parameters(
    message: descriptor.Descriptor, skip: set[str], schemas: Schemas, prefix: str = "", depth: int = 0
) -> list[dict[str, Any]]:
    found = []
    for field in message.fields:
        if field.name in skip:
            continue
        name = prefix + field.name
        is_message = field.type == FD.TYPE_MESSAGE
        if is_message and field.message_type.GetOptions().map_entry:
            continue  # a map cannot be a query parameter
        if is_message and field.message_type.full_name in _NOT_IN_QUERY:
            continue
        schema = schemas.field(field, request=True)
        if is_message and "$ref" in schema:
            if not field.is_repeated and depth < _MAX_QUERY_DEPTH:
                found += _query_parameters(field.message_type, set(), schemas, name + ".", depth + 1)
            continue
        parameter = {"name": name, "in": "query", "required": False, "schema": schema, **_description(schema)}
        if field.is_repeated:
            parameter.update(style="form", explode=True)  # ?x=a&x=b appends, as Envoy does
        found.append(parameter)
    return found


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": False, "content": {JSON: {"schema": schema}}}


def _field_body(field: descriptor.FieldDescriptor, binding: Binding, schemas: Schemas) -> dict[str, Any]:
    if field.type == FD.TYPE_MESSAGE and field.message_type.full_name == HTTP_BODY:
        media = list(binding.rest.request_media_types) if binding.rest is not None else []
        return {"required": True, "content": {kind: {"schema": BINARY} for kind in media or ["*/*"]}}
    return _json_body(schemas.field(field, request=True))


def _responses(contract: Contract, binding: Binding, schemas: Schemas, *, has_input: bool) -> dict[str, Any]:
    method = binding.method
    status = str(binding.rest.success_status or 200) if binding.rest is not None else "200"
    success: dict[str, Any] = {"description": _success_description(binding, status)}
    if status != "204":
        array_of = binding.rest.response_json_array_of if binding.rest is not None else ""
        if method.output_type.full_name == HTTP_BODY and array_of:
            # JSON text the service prints as the transcoder would print a stream of `array_of`.
            items = schemas.ref(contract.pool.FindMessageTypeByName(array_of), request=False)
            success["description"] = f"A JSON array of {array_of.rsplit('.', 1)[-1]}, written as it is printed."
            success["content"] = {JSON: {"schema": {"type": "array", "items": items}}}
        elif method.output_type.full_name == HTTP_BODY:
            media = list(binding.rest.response_media_types) if binding.rest is not None else []
            success["content"] = {kind: {"schema": BINARY} for kind in media or ["*/*"]}
            success["headers"] = {"content-disposition": {"schema": {"type": "string"}, "required": False}}
        else:
            schema = schemas.ref(method.output_type, request=False)
            if method.server_streaming:
                schema = {"type": "array", "items": schema}  # the transcoder's rendering of a stream
            success["content"] = {JSON: {"schema": schema}}
    error = schemas.named(STATUS)
    responses = {status: success}
    if has_input:
        responses["400"] = _error(
            error, "Malformed request: JSON that does not parse, a wrong type, an unknown query parameter."
        )
        responses["422"] = _error(error, "Invalid input; BadRequest field violations name each bad field.")
    responses["404"] = _error(error, "No such record, or no such path.")
    responses["4XX"] = _error(error, "Refused: 401 without a valid API key, 409 conflicting state, 413 too large.")
    responses["5XX"] = _error(
        error, "Failed: 503 a dependency is unavailable, 504 a synchronous run outlived its deadline."
    )
    return responses


def _success_description(binding: Binding, status: str) -> str:
    if status == "204":
        return "Done; no body."
    if binding.method.server_streaming and binding.method.output_type.full_name != HTTP_BODY:
        return f"A JSON array of {binding.method.output_type.name}, written as the stream arrives."
    return "OK" if status == "200" else "Created"


def _error(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description + " Body: google.rpc.Status.", "content": {JSON: {"schema": schema}}}
