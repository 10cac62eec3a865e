"""protoc-gen-validate rules, read from the descriptors of Envoy's API and applied to a parsed config.

Envoy runs these checks (`MessageUtil::validate`) on every config it loads;
a Python parse of the same protos does not. The rules travel as the
`validate.rules` field option (and `validate.required` on oneofs), so they
can be applied generically to any message. What is covered: required
messages and oneofs, scalar bounds and sets, string lengths, patterns (RE2),
prefixes and the header-name/value regexes, repeated and map sizes with
per-item rules, Any and Duration rules, wrapper types, enum `defined_only`,
and deprecated fields. Timestamp rules and the rarely used string formats
(email, uri_ref) are not applied.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

import re2
from google.protobuf import descriptor, descriptor_pool, message, message_factory
from validate import validate_pb2

_WRAPPERS = {
    "google.protobuf.DoubleValue": "double",
    "google.protobuf.FloatValue": "float",
    "google.protobuf.Int64Value": "int64",
    "google.protobuf.UInt64Value": "uint64",
    "google.protobuf.Int32Value": "int32",
    "google.protobuf.UInt32Value": "uint32",
    "google.protobuf.BoolValue": "bool",
    "google.protobuf.StringValue": "string",
    "google.protobuf.BytesValue": "bytes",
}
# protoc-gen-validate's own expressions for its well-known regexes (strict and lax).
_HEADER_NAME = re.compile(r"^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$")
_HEADER_VALUE = re.compile(r"^[^\x00-\x08\x0A-\x1F\x7F]*$")
_HEADER_LAX = re.compile(r"^[^\x00\x0A\x0D]*$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def violations(msg: message.Message, path: str = "") -> list[str]:
    """Every rule `msg` breaks, as "dotted.path: what is wrong".

    msg: a parsed message of Envoy's API (Any fields are unpacked and checked too).
    path: where `msg` sits in the config, for the messages.
    """
    return list(_message(msg, path))


def unpack_any(any_msg: message.Message) -> message.Message | None:
    """The message an Any holds, or None when its type is not in the descriptor pool."""
    name = any_msg.type_url.rsplit("/", 1)[-1]
    try:
        desc = descriptor_pool.Default().FindMessageTypeByName(name)
    except KeyError:
        return None
    inner = message_factory.GetMessageClass(desc)()
    any_msg.Unpack(inner)
    return inner


def _message(msg: message.Message, path: str) -> Iterator[str]:
    desc = msg.DESCRIPTOR
    if desc.GetOptions().HasExtension(validate_pb2.disabled) and desc.GetOptions().Extensions[validate_pb2.disabled]:
        return
    if desc.full_name == "google.protobuf.Any":
        inner = unpack_any(msg)
        if inner is None:
            yield f"{path}: type {msg.type_url!r} is unknown"
        else:
            yield from _message(inner, path)
        return
    for oneof in desc.oneofs:
        options = oneof.GetOptions()
        if options.HasExtension(validate_pb2.required) and options.Extensions[validate_pb2.required]:
            if msg.WhichOneof(oneof.name) is None:
                yield f"{path}: one of {oneof.name} ({', '.join(f.name for f in oneof.fields)}) is required"
    for field in desc.fields:
        yield from _field(msg, field, f"{path}.{field.name}" if path else field.name)


def _rules(field: descriptor.FieldDescriptor) -> validate_pb2.FieldRules | None:
    options = field.GetOptions()
    return options.Extensions[validate_pb2.rules] if options.HasExtension(validate_pb2.rules) else None


def _is_map(field: descriptor.FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _field(msg: message.Message, field: descriptor.FieldDescriptor, path: str) -> Iterator[str]:
    rules = _rules(field)
    value = getattr(msg, field.name)
    if field.is_repeated:
        if len(value) and field.GetOptions().deprecated:
            yield f"{path}: deprecated field"
        if _is_map(field):
            yield from _map(field, value, rules, path)
        else:
            yield from _repeated(field, value, rules, path)
        return
    is_set = msg.HasField(field.name) if field.has_presence else True
    if field.containing_oneof is not None and not is_set:
        return  # rules of a oneof member apply only when it is the one chosen
    if field.has_presence and is_set and field.GetOptions().deprecated:
        yield f"{path}: deprecated field"
    if field.type == field.TYPE_MESSAGE:
        if not is_set:
            if rules is not None and rules.HasField("message") and rules.message.required:
                yield f"{path}: required"
            elif rules is not None and _kind(rules) in ("any", "duration"):
                if getattr(rules, _kind(rules)).required:
                    yield f"{path}: required"
            return
        yield from _single_message(field.message_type, value, rules, path)
        return
    if field.has_presence and not is_set:
        return
    if not field.has_presence and value != field.default_value and field.GetOptions().deprecated:
        yield f"{path}: deprecated field"
    if rules is not None:
        yield from _scalar(field, value, rules, path)


def _single_message(
    message_type: descriptor.Descriptor, value: message.Message, rules: validate_pb2.FieldRules | None, path: str
) -> Iterator[str]:
    kind = _kind(rules) if rules is not None else None
    if kind == "any":
        type_name = value.type_url.rsplit("/", 1)[-1]
        if rules.any.in_ and value.type_url not in rules.any.in_:
            yield f"{path}: type {type_name} not allowed here"
    elif kind == "duration":
        yield from _bounds(value.seconds + value.nanos / 1e9, rules.duration, path, durations=True)
    elif kind is not None and message_type.full_name in _WRAPPERS and kind == _WRAPPERS[message_type.full_name]:
        yield from _scalar(message_type.fields_by_name["value"], value.value, rules, path)
    if rules is not None and rules.HasField("message") and rules.message.skip:
        return
    yield from _message(value, path)


def _kind(rules: validate_pb2.FieldRules) -> str | None:
    return rules.WhichOneof("type")


def _repeated(field, values, rules: validate_pb2.FieldRules | None, path: str) -> Iterator[str]:
    if rules is not None and _kind(rules) == "repeated":
        repeated = rules.repeated
        if not (repeated.ignore_empty and not len(values)):
            yield from _count(repeated, len(values), ("min_items", "max_items"), "items", path)
            if repeated.unique and field.type != field.TYPE_MESSAGE and len(set(values)) != len(values):
                yield f"{path}: items must be unique"
        item_rules = repeated.items if repeated.HasField("items") else None
    else:
        item_rules = None
    for index, item in enumerate(values):
        where = f"{path}[{index}]"
        if field.type == field.TYPE_MESSAGE:
            yield from _single_message(field.message_type, item, item_rules, where)
        elif item_rules is not None:
            yield from _scalar(field, item, item_rules, where)


def _count(rules, count: int, bounds: tuple[str, str], noun: str, path: str) -> Iterator[str]:
    low, high = bounds
    if rules.HasField(low) and count < getattr(rules, low):
        yield f"{path}: at least {getattr(rules, low)} {noun}"
    if rules.HasField(high) and count > getattr(rules, high):
        yield f"{path}: at most {getattr(rules, high)} {noun}"


def _map(field, values, rules: validate_pb2.FieldRules | None, path: str) -> Iterator[str]:
    key_field = field.message_type.fields_by_name["key"]
    value_field = field.message_type.fields_by_name["value"]
    key_rules = value_rules = None
    if rules is not None and _kind(rules) == "map":
        pairs = rules.map
        if not (pairs.ignore_empty and not len(values)):
            yield from _count(pairs, len(values), ("min_pairs", "max_pairs"), "entries", path)
        key_rules = pairs.keys if pairs.HasField("keys") else None
        value_rules = pairs.values if pairs.HasField("values") else None
    for key in values:
        where = f"{path}[{key!r}]"
        if key_rules is not None:
            yield from _scalar(key_field, key, key_rules, where)
        if value_field.type == value_field.TYPE_MESSAGE:
            yield from _single_message(value_field.message_type, values[key], value_rules, where)
        elif value_rules is not None:
            yield from _scalar(value_field, values[key], value_rules, where)


def _scalar(field, value: Any, rules: validate_pb2.FieldRules, path: str) -> Iterator[str]:
    kind = _kind(rules)
    if kind is None:
        return
    typed = getattr(rules, kind)
    if kind == "string":
        yield from _string(value, typed, path)
    elif kind == "bytes":
        if typed.HasField("min_len") and len(value) < typed.min_len:
            yield f"{path}: at least {typed.min_len} bytes"
        if typed.HasField("max_len") and len(value) > typed.max_len:
            yield f"{path}: at most {typed.max_len} bytes"
    elif kind == "enum":
        if typed.defined_only and field.enum_type.values_by_number.get(value) is None:
            yield f"{path}: {value} is not a value of {field.enum_type.full_name}"
        yield from _sets(value, typed, path)
    elif kind == "bool":
        if typed.HasField("const") and value != typed.const:
            yield f"{path}: must be {typed.const}"
    elif kind in ("message", "any", "duration", "repeated", "map", "timestamp"):
        return
    else:
        if getattr(typed, "ignore_empty", False) and value == 0:
            return
        yield from _bounds(value, typed, path)


def _bounds(value: float, rules: Any, path: str, *, durations: bool = False) -> Iterator[str]:
    def read(name: str) -> float | None:
        if not rules.HasField(name):
            return None
        bound = getattr(rules, name)
        return bound.seconds + bound.nanos / 1e9 if durations else bound

    const, lt, lte, gt, gte = (read(n) for n in ("const", "lt", "lte", "gt", "gte"))
    if const is not None and value != const:
        yield f"{path}: must be {const}"
    upper = lt if lt is not None else lte
    lower = gt if gt is not None else gte
    if upper is not None and lower is not None and lower > upper:
        # protoc-gen-validate's exclusive range: outside (upper, lower).
        if (lt is not None and value >= lt or lt is None and value > lte) and (
            gt is not None and value <= gt or gt is None and value < gte
        ):
            yield f"{path}: {value} is inside the excluded range"
        return
    if lt is not None and not value < lt:
        yield f"{path}: {value} must be < {lt}"
    if lte is not None and not value <= lte:
        yield f"{path}: {value} must be <= {lte}"
    if gt is not None and not value > gt:
        yield f"{path}: {value} must be > {gt}"
    if gte is not None and not value >= gte:
        yield f"{path}: {value} must be >= {gte}"
    if not durations:
        yield from _sets(value, rules, path)


def _sets(value: Any, rules: Any, path: str) -> Iterator[str]:
    allowed = list(getattr(rules, "in"))
    if allowed and value not in allowed:
        yield f"{path}: {value!r} not in {allowed}"
    if value in list(rules.not_in):
        yield f"{path}: {value!r} is not allowed"


def _string(value: str, rules: validate_pb2.StringRules, path: str) -> Iterator[str]:
    if rules.ignore_empty and value == "":
        return
    checks = [
        ("const", lambda r: value == r.const, "must be {0.const!r}"),
        ("len", lambda r: len(value) == r.len, "must be {0.len} characters"),
        ("min_len", lambda r: len(value) >= r.min_len, "at least {0.min_len} characters"),
        ("max_len", lambda r: len(value) <= r.max_len, "at most {0.max_len} characters"),
        ("min_bytes", lambda r: len(value.encode()) >= r.min_bytes, "at least {0.min_bytes} bytes"),
        ("max_bytes", lambda r: len(value.encode()) <= r.max_bytes, "at most {0.max_bytes} bytes"),
        ("pattern", lambda r: re2.search(r.pattern, value) is not None, "must match {0.pattern!r}"),
        ("prefix", lambda r: value.startswith(r.prefix), "must start with {0.prefix!r}"),
        ("suffix", lambda r: value.endswith(r.suffix), "must end with {0.suffix!r}"),
        ("contains", lambda r: r.contains in value, "must contain {0.contains!r}"),
        ("not_contains", lambda r: r.not_contains not in value, "must not contain {0.not_contains!r}"),
    ]
    for name, ok, problem in checks:
        if rules.HasField(name) and not ok(rules):
            yield f"{path}: {value!r} " + problem.format(rules)
    yield from _sets(value, rules, path)
    well_known = rules.WhichOneof("well_known")
    if well_known is None:
        return
    if well_known == "well_known_regex":
        strict = not rules.HasField("strict") or rules.strict
        expression = {
            validate_pb2.HTTP_HEADER_NAME: _HEADER_NAME if strict else _HEADER_LAX,
            validate_pb2.HTTP_HEADER_VALUE: _HEADER_VALUE if strict else _HEADER_LAX,
        }.get(rules.well_known_regex)
        if expression is not None and not expression.match(value):
            yield f"{path}: {value!r} is not a valid HTTP header {validate_pb2.KnownRegex.Name(rules.well_known_regex)}"
    elif well_known in ("ip", "ipv4", "ipv6", "address", "hostname", "uuid") and getattr(rules, well_known):
        if not _well_known(well_known, value):
            yield f"{path}: {value!r} is not a valid {well_known}"


def _well_known(kind: str, value: str) -> bool:
    if kind == "uuid":
        return _UUID.match(value) is not None
    if kind == "hostname":
        return _HOSTNAME.match(value) is not None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return kind == "address" and _HOSTNAME.match(value) is not None
    return kind in ("ip", "address") or (kind == "ipv4") == (address.version == 4)
