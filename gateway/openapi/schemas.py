"""JSON Schemas of messages as Envoy's transcoder prints and parses them (proto3 JSON mapping).

Print options are envoy.yaml's: proto field names, every field without
presence printed (so it is `required` in a response), enums as names. A
message has two components: its response form and
its request form (`<name>.Input`), where nothing is required. A component is
named by the message's own name (Backtest, Status), or its full name when two
packages share one. Fields of
well-known types are inlined as their JSON form.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor

from gateway.openapi.contract import JSON_TYPES, Contract

REF = "#/components/schemas/"
INPUT = ".Input"
_INT32 = {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1}
_UINT32 = {"type": "integer", "format": "int32", "minimum": 0, "maximum": 2**32 - 1}
# int64 kinds print as JSON strings (they exceed a double's precision).
_INT64 = {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}
FD = descriptor.FieldDescriptor
_SCALARS: dict[int, dict[str, Any]] = {
    FD.TYPE_DOUBLE: {"type": "number"},
    FD.TYPE_FLOAT: {"type": "number"},
    FD.TYPE_INT32: _INT32,
    FD.TYPE_SINT32: _INT32,
    FD.TYPE_SFIXED32: _INT32,
    FD.TYPE_UINT32: _UINT32,
    FD.TYPE_FIXED32: _UINT32,
    FD.TYPE_INT64: _INT64,
    FD.TYPE_SINT64: _INT64,
    FD.TYPE_SFIXED64: _INT64,
    FD.TYPE_UINT64: _INT64,
    FD.TYPE_FIXED64: _INT64,
    FD.TYPE_BOOL: {"type": "boolean"},
    FD.TYPE_STRING: {"type": "string"},
    FD.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Empty": {"type": "object", "maxProperties": 0},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
}
_WRAPPERS = {
    f"google.protobuf.{name}Value": kind
    for name, kind in [
        ("Double", FD.TYPE_DOUBLE),
        ("Float", FD.TYPE_FLOAT),
        ("Int64", FD.TYPE_INT64),
        ("UInt64", FD.TYPE_UINT64),
        ("Int32", FD.TYPE_INT32),
        ("UInt32", FD.TYPE_UINT32),
        ("Bool", FD.TYPE_BOOL),
        ("String", FD.TYPE_STRING),
        ("Bytes", FD.TYPE_BYTES),
    ]
}


class Schemas:
    """Collects the components the document's operations refer to.

    contract: where comments and field options are read.
    """

    def __init__(self, contract: Contract) -> None:
        self._contract = contract
        self.components: dict[str, dict[str, Any]] = {}

    def ref(self, message: descriptor.Descriptor, *, request: bool) -> dict[str, Any]:
        """A $ref to the message's response or request form (its inline JSON form for well-known types)."""
        inline = self._well_known(message)
        if inline is not None:
            return inline
        name = self._contract.component_name(message) + (INPUT if request else "")
        if name not in self.components:
            self.components[name] = {}  # reserved first: messages may refer to themselves
            self.components[name] = self.object(message, request=request)
        return {"$ref": REF + name}

    def named(self, full_name: str) -> dict[str, Any]:
        """A $ref to the response form of the message called `full_name` (e.g. google.rpc.Status)."""
        return self.ref(self._contract.pool.FindMessageTypeByName(full_name), request=False)

    def object(
        self, message: descriptor.Descriptor, *, request: bool, without: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        """The message as a JSON object schema, leaving out the fields named in `without`."""
        properties, required = {}, []
        for field in message.fields:
            if field.name in without:
                continue
            properties[field.name] = self.field(field, request=request)
            if not request and not field.has_presence:
                required.append(field.name)  # printed even when empty (always_print_primitive_fields)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if not request:
            schema["additionalProperties"] = False  # requests: unknown keys are ignored, as Envoy does
        if required:
            schema["required"] = required
        comment = self._contract.comments.get(message.full_name)
        if comment:
            schema["description"] = comment
        return schema

    def field(self, field: descriptor.FieldDescriptor, *, request: bool) -> dict[str, Any]:
        """The schema of one field's JSON value."""
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            schema = {"type": "object", "additionalProperties": self._single(value, request=request)}
        elif field.is_repeated:
            schema = {"type": "array", "items": self._single(field, request=request)}
        else:
            schema = self._single(field, request=request)
        comment = self._contract.comments.get(f"{field.containing_type.full_name}.{field.name}")
        if comment:
            # A $ref with siblings is allowed in 3.1; keep the referenced schema whole.
            schema = {**schema, "description": comment}
        return schema

    def _single(self, field: descriptor.FieldDescriptor, *, request: bool) -> dict[str, Any]:
        if field.type == FD.TYPE_ENUM:
            return {"type": "string", "enum": [value.name for value in field.enum_type.values]}
        if field.type != FD.TYPE_MESSAGE:
            return dict(_SCALARS[field.type])
        json_types = self._contract.option(field, JSON_TYPES)
        if field.message_type.full_name == "google.protobuf.Value" and json_types:
            return {"type": json_types[0] if len(json_types) == 1 else list(json_types)}
        return self.ref(field.message_type, request=request)

    def _well_known(self, message: descriptor.Descriptor) -> dict[str, Any] | None:
        if message.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[message.full_name])
        if message.full_name in _WRAPPERS:
            return dict(_SCALARS[_WRAPPERS[message.full_name]])
        return None
